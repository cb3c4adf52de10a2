"""Acronyms an article defines ("Clinical Commissioning Group (CCG)"), so CCG and its long form match."""

from __future__ import annotations

import re

_DEFINITION = re.compile(r"\(([A-Z][A-Za-z]{1,7}?)s?\)")
_WORD = re.compile(r"[A-Za-z][\w'’-]*")
_LINKS = frozenset({"and", "of", "the", "for", "in", "on", "to", "&"})


def long_form(words: list[str], abbr: str) -> list[str] | None:
    """The words ending just before "(ABBR)" whose initials spell ABBR, skipping small links ("and", "of")."""
    letters = [c.lower() for c in abbr if c.isupper()]
    if len(letters) < 2:
        return None
    out: list[str] = []
    i = len(words) - 1
    while letters and i >= 0 and len(out) < 2 * len(abbr) + 2:
        word = words[i]
        if word[0].lower() == letters[-1]:
            letters.pop()
            out.append(word)
        elif word.lower() in _LINKS and out:
            out.append(word)
        else:
            return None
        i -= 1
    return list(reversed(out)) if not letters else None


def find_acronyms(text: str) -> dict[str, str]:
    """Acronym -> long form (both lower case) for every definition in the text."""
    found: dict[str, str] = {}
    for m in _DEFINITION.finditer(text):
        abbr = m.group(1)
        before = _WORD.findall(text[max(0, m.start() - 120):m.start()])
        words = long_form(before, abbr)
        if words:
            found.setdefault(abbr.lower(), " ".join(words).lower())
    return found
