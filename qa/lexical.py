"""BM25 over passages with bm25s: tokenise, index, score, save and load one directory."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

_TOKEN = re.compile(r"[\w£$€%]+(?:['’][\w]+)?")
# "CCGs", "MPs": an acronym's plural, which the stemmer leaves as it is ("ccgs"), read as the acronym ("ccg")
_ACRONYM_PLURAL = re.compile(r"\b([A-Z]{2,})s\b")
_POSSESSIVE = ("'s", "’s")
STOPWORDS = frozenset(
    """a an and are as at be been but by did do does for from had has have he her his how i if in into is it its
    of on or our she so than that the their them then there these they this those to was we were what when where
    which who whom why will with would you your""".split()
)


def _acronym(m: re.Match) -> str:
    """The acronym of a plural ("CCGs" -> "CCG"); a word that would become a stopword ("DOs") stays as it is."""
    return m.group(0) if m.group(1).lower() in STOPWORDS else m.group(1)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased, stemmed word tokens (possessive endings dropped, an acronym's plural read as the acronym)."""
    words = [w[:-2] if w[-2:] in _POSSESSIVE else w for w in _TOKEN.findall(_ACRONYM_PLURAL.sub(_acronym, text).lower())]
    if not keep_stopwords:
        words = [w for w in words if w not in STOPWORDS]
    return _stemmer().stemWords(words)


class Lexical:
    """A BM25 index over a fixed list of passages (row i is the i-th passage in id order)."""

    def __init__(self, retriever) -> None:
        self.retriever = retriever
        self.vocab: dict = retriever.vocab_dict or {}
        self._df: dict[str, int] = {}  # computed on first use: at most one entry per vocabulary word
        first = next(iter(self.vocab), None)
        self.num_docs = len(self._token_scores(first)) if first is not None else 0

    @classmethod
    def build(cls, texts: list[str], k1: float = 1.2, b: float = 0.75) -> "Lexical":
        """Index the texts."""
        import bm25s

        retriever = bm25s.BM25(k1=k1, b=b)
        corpus = [tokenize(t) or [""] for t in texts]
        if corpus:
            retriever.index(corpus, show_progress=False)
        return cls(retriever)

    def save(self, directory: Path) -> None:
        """Write the index as plain arrays and JSON (no pickle)."""
        self.retriever.save(str(directory), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> "Lexical":
        """Read an index written by save()."""
        import bm25s

        return cls(bm25s.BM25.load(str(directory), allow_pickle=False, mmap=False))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of the query for every passage row."""
        tokens = [t for t in tokenize(query) if t in self.vocab]
        if not tokens or self.num_docs == 0:
            return np.zeros(self.num_docs, dtype=np.float32)
        return np.asarray(self.retriever.get_scores(tokens), dtype=np.float32)

    def df(self, token: str) -> int:
        """How many passages hold the token (counted on first use: at most once per vocabulary word)."""
        if token not in self.vocab:
            return 0
        if token not in self._df:
            self._df[token] = int(np.count_nonzero(self._token_scores(token)))
        return self._df[token]

    def idf(self, token: str) -> float:
        """BM25's IDF weight of a token, log(1 + (N - df + 0.5) / (df + 0.5)); 0 for unknown tokens."""
        if token not in self.vocab:
            return 0.0
        df, n = self.df(token), self.num_docs
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def _token_scores(self, token: str) -> np.ndarray:
        """The token's BM25 score in every passage: positive exactly in the passages that hold it."""
        return self.retriever.get_scores([token])
