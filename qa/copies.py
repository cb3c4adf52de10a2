"""Copies of one story: a passage another article repeats (a syndicated copy) and a sentence two articles
share, found by their words, so an answer or a result list shows each story once."""

from __future__ import annotations

import re
from functools import lru_cache

from qa.lexical import tokenize
from qa.retrieve import Hit

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@lru_cache(maxsize=4096)  # the same passages and sentences are compared again for every question
def words(text: str) -> frozenset[str]:
    """A text's word set (stemmed, stopwords kept): what two copies share."""
    return frozenset(tokenize(text, keep_stopwords=True))


def numbers(text: str) -> frozenset[str]:
    """The numbers a text gives: two sentences giving different figures don't say the same thing."""
    return frozenset(n.replace(",", "") for n in _NUMBER.findall(text))


def same_statement(a: str, b: str, overlap: float) -> bool:
    """Two sentences say the same thing: nearly the same words (Jaccard >= overlap) and the same numbers."""
    wa, wb = words(a), words(b)
    return bool(wa and wb) and len(wa & wb) / len(wa | wb) >= overlap and numbers(a) == numbers(b)


def is_copy(a: str, b: str, overlap: float, size: float = 0.5) -> bool:
    """Two passages show one is a copy of the other: the smaller one's words lie (nearly) inside the larger's,
    so a copy cut into passages at other places still counts; it gives no number the larger doesn't; and it is
    not much smaller (a wire story's paragraph inside a long local story is not a copy of it)."""
    wa, wb = words(a), words(b)
    small, large = (a, b) if len(wa) <= len(wb) else (b, a)
    return (
        bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= overlap
        and min(len(wa), len(wb)) >= size * max(len(wa), len(wb)) and numbers(small) <= numbers(large)
    )


def collapse(hits: list[Hit], overlap: float, size: float = 0.5) -> tuple[list[Hit], dict[int, tuple[Hit, ...]]]:
    """The hits with each copy of a better-ranked passage from another article folded into it, in order; and,
    by the kept passage's id, the copies folded into it."""
    kept: list[Hit] = []
    copies: dict[int, list[Hit]] = {}
    for h in hits:
        home = next((k for k in kept if k.doc_id != h.doc_id and is_copy(h.passage.text, k.passage.text, overlap, size)), None)
        if home is None:
            kept.append(h)
        elif all(c.doc_id != h.doc_id for c in copies.get(home.passage.id, ())):
            copies.setdefault(home.passage.id, []).append(h)
    return kept, {pid: tuple(cs) for pid, cs in copies.items()}
