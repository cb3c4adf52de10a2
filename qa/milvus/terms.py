"""qa's BM25 tokens as text Milvus's standard analyzer splits back into exactly those tokens."""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

from qa.lexical import tokenize

_NOT_WORD = re.compile(r"[^\w]")


def encode_terms(tokens: Iterable[str]) -> str:
    """The tokens joined by spaces, each character the analyzer would split on (£ $ € % ') spelled as _uHEX_."""
    return " ".join(_NOT_WORD.sub(lambda m: f"_u{ord(m.group()):x}_", t) for t in tokens)


def passage_terms(text: str) -> tuple[list[str], str]:
    """A passage's BM25 tokens (as qa.lexical indexes them) and their encoding for Milvus."""
    tokens = tokenize(text)
    return tokens, encode_terms(tokens)


def document_frequencies(token_lists: Iterable[list[str]]) -> tuple[dict[str, int], int]:
    """How many passages hold each token, and how many passages there are (an empty passage counts as ``)."""
    df: Counter[str] = Counter()
    n = 0
    for tokens in token_lists:
        df.update(set(tokens or [""]))
        n += 1
    return dict(df), n
