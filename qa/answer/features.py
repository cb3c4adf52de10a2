"""What the scorer knows of each article, computed once per article and kept for the most recent ones."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from qa.answer.acronyms import find_acronyms
from qa.answer.quotes import attributions
from qa.lexical import tokenize
from qa.segment import Span

# a sentence opening with a pronoun continues the one before it ("These came into force on ...")
CONTINUES = re.compile(r"^\W*(these|this|it|they|he|she|its|their|such|the same|that)\b", re.I)


@dataclass(frozen=True)
class ArticleFeatures:
    """One article's metadata, text, sentences, vocabulary, headline words, acronyms and quote speakers."""

    doc_id: str
    title: str
    date: str
    source: str
    text: str
    spans: tuple[Span, ...]  # its sentences' character spans
    vocab: frozenset[str]  # every index token of its headline and text
    headline: frozenset[str]  # its headline's tokens, acronyms expanded: they set the scene for every sentence
    acronyms: tuple[tuple[frozenset[str], frozenset[str]], ...]  # (acronym tokens, long-form tokens)
    speakers: dict[int, frozenset[str]]  # sentence index -> tokens of the words introducing its quote

    def sentence(self, i: int) -> str:
        """The text of sentence i."""
        return self.text[self.spans[i].start:self.spans[i].end]

    def expand(self, tokens: set[str]) -> set[str]:
        """The tokens plus the other form of each acronym the article defines (CCG <-> clinical commissioning group)."""
        for abbr, long in self.acronyms:
            if abbr <= tokens:
                tokens |= long
            elif long <= tokens:
                tokens |= abbr
        return tokens

    def carries(self, i: int) -> bool:
        """Whether sentence i opens with a word that continues the one before ("These", "It")."""
        return i > 0 and bool(CONTINUES.search(self.sentence(i)))


class Features:
    """Article features on demand from the index's store, the most recent `size` articles kept."""

    def __init__(self, store, size: int = 256) -> None:
        self.store = store
        self.get = lru_cache(maxsize=size)(self._compute)

    def _compute(self, doc_id: str) -> ArticleFeatures:
        art = self.store.article(doc_id)
        spans = tuple(self.store.sentences(doc_id))
        acronyms = tuple(
            (frozenset(a), frozenset(b))
            for abbr, long in find_acronyms(art.text).items()
            if (a := tokenize(abbr)) and (b := tokenize(long))
        )
        features = ArticleFeatures(
            doc_id=doc_id, title=art.title, date=art.date, source=art.source, text=art.text, spans=spans,
            vocab=frozenset(tokenize(art.title)) | frozenset(tokenize(art.text)), headline=frozenset(),
            acronyms=acronyms, speakers=_speakers(art.text, spans),
        )
        return replace(features, headline=frozenset(features.expand(set(tokenize(art.title)))))


def _speakers(text: str, spans: tuple[Span, ...]) -> dict[int, frozenset[str]]:
    """The tokens of the words introducing each quoted sentence ("Toby Perkins, MP, said:")."""
    found = attributions(text, [(s.start, s.end) for s in spans])
    return {i: frozenset(tokenize(text[a:b])) for i, (a, b) in found.items()}
