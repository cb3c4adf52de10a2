"""Search a loaded index: BM25 and dense (FAISS) scores fused into one ranking.

Loading a generation is qa.generation's job; `open_index` and `LoadedIndex` are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from qa.config import Config
from qa.generation import LoadedIndex
from qa.generation import open_index as open_local
from qa.store import PassageRow

__all__ = ["Hit", "LoadedIndex", "Retriever", "fuse", "open_index"]


def open_index(cfg: Config):
    """The live index for cfg: the local folder's generation, or the one on cfg's Milvus server."""
    if cfg.milvus:
        from qa.milvus.index import MilvusIndex

        return MilvusIndex(cfg)
    return open_local(cfg)


@dataclass(frozen=True)
class Hit:
    """A ranked passage with its fused score and the two scores behind it."""

    passage: PassageRow
    score: float
    dense: float
    bm25: float

    @property
    def doc_id(self) -> str:
        return self.passage.doc_id


# BM25 and dense fused as (1 - w) * BM25 + w * cosine, both max-normalised. With the fitted encoder (qa.deltas), w
# and the sentence score's w_dense were chosen on squad-train's last 2,000 questions, which no retrieval, reader or abstention weight is fitted on
# (`python -m bench.tune --retr 0.35 0.5 0.65 --grid w_dense=0.35,0.5`; docs/benchmarks.md, round 6): hit@1 0.792 /
# 0.796 / 0.792 at w = 0.35 / 0.5 / 0.65 with w_dense 0.35, 0.793 / 0.798 / 0.795 with w_dense 0.5, the best.
DENSE_WEIGHT = 0.5


class Retriever:
    """Ranks passages for a query with BM25, dense vectors, or both fused.

    Over an index on a server (qa.milvus), `Retriever(index, embedder)` is that index's own subclass,
    which asks the server for the candidates and fuses them the same way.
    """

    def __new__(cls, index, *args, **kwargs):
        kind = getattr(index, "retriever_class", cls) if cls is Retriever else cls
        return super().__new__(kind)

    def __init__(self, index: LoadedIndex, embedder, dense_weight: float = DENSE_WEIGHT, pool: int = 100) -> None:
        self.index = index
        self.embedder = embedder
        self.dense_weight = dense_weight
        self.pool = pool
        self._qcache: dict[str, np.ndarray] = {}
        self._row_docs: np.ndarray | None = None

    @property
    def row_docs(self) -> np.ndarray:
        """The article of each passage row (read once)."""
        if self._row_docs is None:
            self._row_docs = np.array(self.index.store.passage_docs(), dtype=object)
        return self._row_docs

    def query_vector(self, query: str) -> np.ndarray:
        """The query's embedding (1 x dim), cached for the few most recent queries."""
        cache = self._qcache
        if query not in cache:
            if len(cache) > 64:
                cache.pop(next(iter(cache)))
            cache[query] = self.embedder.encode_queries([query])
        return cache[query]

    def prime(self, queries: list[str]) -> None:
        """Encode many queries in one batch and keep all their vectors (for tuning sweeps)."""
        todo = [q for q in dict.fromkeys(queries) if q not in self._qcache]
        if todo:
            self._qcache.update(zip(todo, (v[None, :] for v in self.embedder.encode_queries(todo))))

    def sentence_vectors(self, passage_id: int) -> np.ndarray:
        """The pooled vectors of a passage's sentences (one row each, in order)."""
        r = self.index.row_of[passage_id]
        return self.index.sentvecs[self.index.sent_offsets[r]:self.index.sent_offsets[r + 1]].astype(np.float32)

    def sentence_scores(self, query: str, passage_id: int) -> np.ndarray:
        """Cosine of the query to each sentence of a passage (pooled at indexing time)."""
        return self.sentence_vectors(passage_id) @ self.query_vector(query)[0]

    def dense_scores(self, query: str, k: int, skip: np.ndarray | None = None) -> dict[int, float]:
        """Cosine similarity of the query to its k nearest passages, by row; rows where `skip` is true left out of
        the search itself (so a narrow filter still gets its k nearest)."""
        allowed = self.index.ids if skip is None else self.index.ids[~skip]
        if len(allowed) == 0:
            return {}
        vec = self.query_vector(query)
        if skip is None:
            scores, ids = self.index.faiss.search(vec, min(k, len(allowed)))
        else:
            import faiss

            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed.astype(np.int64)))
            scores, ids = self.index.faiss.search(vec, min(k, len(allowed)), params=params)
        return {self.index.row_of[int(pid)]: float(s) for s, pid in zip(scores[0], ids[0]) if pid >= 0}

    def search(self, query: str, k: int = 10, mode: str = "hybrid", skip_docs: frozenset[str] = frozenset()) -> list[Hit]:
        """The k best passages for the query, none from the articles in skip_docs."""
        n = self.index.size
        if n == 0:
            return []
        skip = np.isin(self.row_docs, list(skip_docs)) if skip_docs else None
        bm25 = self.index.lexical.scores(query) if mode != "dense" else np.zeros(n, np.float32)
        if skip is not None:
            bm25 = np.where(skip, np.float32(0.0), bm25)
        dense = self.dense_scores(query, max(self.pool, k), skip) if mode != "bm25" else {}
        if mode == "bm25":
            fused = {int(i): float(bm25[i]) for i in np.argsort(-bm25)[: max(k, 1)] if bm25[i] > 0}
        elif mode == "dense":
            fused = dict(dense)
        else:
            fused = self._fuse(bm25, dense, k)
        rows = sorted(fused, key=lambda r: -fused[r])[:k]
        passages = self.index.store.passages([int(self.index.ids[r]) for r in rows])
        return [
            Hit(passages[int(self.index.ids[r])], fused[r], dense.get(r, 0.0), float(bm25[r]))
            for r in rows
        ]

    def _fuse(self, bm25: np.ndarray, dense: dict[int, float], k: int) -> dict[int, float]:
        """Convex combination of max-normalised BM25 and cosine over the union of both pools."""
        pool = max(self.pool, k)
        top_bm25 = [int(i) for i in np.argsort(-bm25)[:pool] if bm25[i] > 0]
        bmax = float(bm25.max()) if len(bm25) else 0.0
        return fuse(set(top_bm25) | set(dense), lambda r: float(bm25[r]), bmax, dense, self.dense_weight)


def fuse(cands: Iterable[int], bm25: Callable[[int], float], bmax: float, dense: dict[int, float], w: float) -> dict[int, float]:
    """w * min-max-normalised cosine + (1 - w) * BM25 / its maximum, for each candidate (by row or passage id)."""
    dvals = list(dense.values())
    dmin = min(dvals) if dvals else 0.0
    dmax = max(dvals) if dvals else 0.0
    out: dict[int, float] = {}
    for r in cands:
        b = bm25(r) / bmax if bmax > 0 else 0.0
        d = dense.get(r, dmin)
        dn = (d - dmin) / (dmax - dmin) if dmax > dmin else 0.0
        out[r] = w * dn + (1 - w) * b
    return out
