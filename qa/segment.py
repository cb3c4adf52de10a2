"""Sentence spans and passages of whole sentences, all as character offsets into canonical text."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from qa.config import ChunkSettings

_WORDPIECE = re.compile(r"\w+|[^\w\s]")


class Span(NamedTuple):
    """A half-open character range [start, end) of a text."""

    start: int
    end: int


class Passage(NamedTuple):
    """A run of whole sentences: its span and the index range [first, last) of its sentences."""

    start: int
    end: int
    first_sentence: int
    last_sentence: int


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=False)


def _split_paragraph(text: str, offset: int) -> list[Span]:
    """Sentence spans of one paragraph, located by search so they always slice back exactly."""
    spans: list[Span] = []
    pos = 0
    try:
        pieces = _segmenter().segment(text)
    except Exception:  # pysbd can fail on odd input; a paragraph then counts as one sentence
        pieces = [text]
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        found = text.find(piece, pos)
        if found < 0:  # segmenter altered the text: fall back to the rest of the paragraph
            rest = text[pos:]
            if rest.strip():
                start = pos + len(rest) - len(rest.lstrip())
                spans.append(Span(offset + start, offset + len(text.rstrip())))
            return spans
        spans.append(Span(offset + found, offset + found + len(piece)))
        pos = found + len(piece)
    return spans


def sentence_spans(text: str, max_chars: int = 1200) -> list[Span]:
    """Sentences of the text, paragraph by paragraph (a line is a paragraph); very long ones cut."""
    spans: list[Span] = []
    offset = 0
    for line in text.split("\n"):
        if line.strip():
            for span in _split_paragraph(line, offset):
                spans.extend(_cut_long(text, span, max_chars))
        offset += len(line) + 1
    return spans


def _cut_long(text: str, span: Span, max_chars: int) -> list[Span]:
    """Cut a sentence longer than max_chars at spaces, so no piece overflows the model."""
    out: list[Span] = []
    start, end = span
    while end - start > max_chars:
        cut = text.rfind(" ", start + 1, start + max_chars)
        if cut <= start:
            cut = start + max_chars
        out.append(Span(start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        out.append(Span(start, end))
    return out


def count_tokens(text: str) -> int:
    """An estimate of word pieces: words and punctuation, long words counting extra."""
    return sum(1 + len(tok) // 8 for tok in _WORDPIECE.findall(text))


def make_passages(text: str, sentences: list[Span], settings: ChunkSettings) -> list[Passage]:
    """Group consecutive sentences into passages under the token budget, overlapping a little."""
    passages: list[Passage] = []
    sizes = [count_tokens(text[s.start:s.end]) for s in sentences]
    i = 0
    n = len(sentences)
    while i < n:
        j = i
        total = 0
        while j < n and (j == i or total + sizes[j] <= settings.max_tokens):
            total += sizes[j]
            j += 1
        passages.append(Passage(sentences[i].start, sentences[j - 1].end, i, j))
        if j >= n:
            break
        i = max(i + 1, j - settings.overlap_sentences)
    return passages
