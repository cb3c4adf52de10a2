"""Signs that the articles hold no answer: names, or the very thing asked about, that they never mention."""

from __future__ import annotations

import re

from qa.lexical import tokenize

QUESTION_WORDS = frozenset("what which who whom whose when where why how is are was were do does did can could will would".split())
# "what is the salary of ...": the noun after the question word is the thing asked about
FOCUS = re.compile(
    r"^\s*(?:what|which|how many|how much)\s+(?:(?:is|was|are|were|did|does|do|has|have)\s+)?(?:(?:the|a|an)\s+)?([a-z]+)\b", re.I
)
# nouns that only name the kind of answer ("what percentage", "what role"): the articles needn't use them
TYPE_NOUNS = frozenset(
    "percentage proportion share fraction number amount total date day month year time kind type sort role "
    "position job title name reason way".split()
)


def question_names(question: str) -> list[str]:
    """Capitalised words (question words aside) and numbers of two or more digits in the question."""
    out = []
    for word in re.findall(r"[\w’'/-]+", question):
        if word.lower() in QUESTION_WORDS:
            continue
        if word[:1].isupper() or re.fullmatch(r"\d{2,}", word):
            out.append(word)
    return out


def missing(words: list[str], vocab) -> list[str]:
    """The words none of whose index tokens is in vocab (anything supporting `in`)."""
    return [w for w in words if (toks := tokenize(w)) and all(t not in vocab for t in toks)]


def unknown_names(question: str, vocab) -> list[str]:
    """Names and numbers in the question that no article uses (e.g. 'Manchester'): nothing to quote."""
    return missing(question_names(question), vocab)


def type_noun(question: str) -> str | None:
    """The answer-kind noun the question opens with ("role" in "what role does ..."), if any."""
    m = FOCUS.match(question)
    return m.group(1).lower() if m and m.group(1).lower() in TYPE_NOUNS else None


def unknown_focus(question: str, vocab) -> list[str]:
    """The thing asked about ("salary" in "what is the salary of ...") when no article ever mentions it."""
    m = FOCUS.match(question)
    if not m or m.group(1).lower() in TYPE_NOUNS or m.group(1).lower() in QUESTION_WORDS:
        return []
    return missing([m.group(1)], vocab)
