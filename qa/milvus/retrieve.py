"""Search an index on a Milvus server: BM25 and dense candidates from the server, fused as the local index fuses them."""

from __future__ import annotations

import numpy as np

from qa.lexical import tokenize
from qa.milvus.client import BM25_K1
from qa.milvus.index import MilvusIndex
from qa.milvus.terms import encode_terms
from qa.retrieve import Hit, Retriever, fuse

_SENTENCE_CACHE = 2048


class MilvusRetriever(Retriever):
    """Retriever over a MilvusIndex: the same methods, the candidates fetched from the server."""

    index: MilvusIndex

    def __init__(self, index: MilvusIndex, embedder, dense_weight: float | None = None, pool: int = 100) -> None:
        from qa.retrieve import DENSE_WEIGHT

        super().__init__(index, embedder, DENSE_WEIGHT if dense_weight is None else dense_weight, pool)
        self._sentvecs: dict[int, np.ndarray] = {}

    def sentence_vectors(self, passage_id: int) -> np.ndarray:
        """The pooled vectors of a passage's sentences (one row each, in order)."""
        if passage_id not in self._sentvecs:
            self._prefetch([passage_id])
        return self._sentvecs[passage_id]

    def _prefetch(self, passage_ids: list[int]) -> None:
        """Read the sentence vectors of these passages in one request."""
        todo = [p for p in passage_ids if p not in self._sentvecs]
        if not todo:
            return
        if len(self._sentvecs) + len(todo) > _SENTENCE_CACHE:
            self._sentvecs.clear()
        self._sentvecs.update(self.index.store.sentence_vectors(todo))

    def dense_scores(self, query: str, k: int, skip: frozenset[str] | None = None) -> dict[int, float]:  # type: ignore[override]
        """Cosine similarity of the query to its k nearest passages, by passage id; the articles in `skip` left
        out of the search itself."""
        with self.index.db.errors("search the index on"):
            res = self.index.db.client.search(
                self.index.names.passages, data=[self.query_vector(query)[0].tolist()], anns_field="vector",
                limit=k, filter=_not_in(skip), output_fields=["id"],
                search_params={"metric_type": "IP", "params": {"ef": max(128, k)} if self.index.hnsw else {}},
            )
        return {int(h["id"]): float(h["distance"]) for h in res[0]}

    def bm25_scores(self, query: str, k: int, skip: frozenset[str] | None = None, ids: list[int] | None = None) -> dict[int, float]:
        """Milvus's BM25 score of the query for its k best passages (or for the passages `ids`), best first.

        Milvus scores BM25 with the (k1 + 1) factor that bm25s leaves out: it is divided out so the scores
        are the local index's.
        """
        terms = encode_terms([t for t in tokenize(query) if t in self.index.lexical.vocab])
        if not terms or (ids is not None and not ids):
            return {}
        expr = _not_in(skip)
        if ids is not None:
            expr = " and ".join(x for x in (expr, f"id in {[int(i) for i in ids]}") if x)
            k = len(ids)
        with self.index.db.errors("search the index on"):
            res = self.index.db.client.search(
                self.index.names.passages, data=[terms], anns_field="sparse", limit=k, filter=expr,
                output_fields=["id"], search_params={"metric_type": "BM25"},
            )
        return {int(h["id"]): -float(h["distance"]) / (1 + BM25_K1) for h in res[0] if h["distance"] < 0}

    def search(self, query: str, k: int = 10, mode: str = "hybrid", skip_docs: frozenset[str] = frozenset()) -> list[Hit]:
        """The k best passages for the query, none from the articles in skip_docs."""
        if self.index.size == 0:
            return []
        pool = max(self.pool, k)
        skip = frozenset(skip_docs) or None
        bm25 = self.bm25_scores(query, pool, skip) if mode != "dense" else {}
        dense = self.dense_scores(query, pool, skip) if mode != "bm25" else {}
        if mode == "bm25":
            fused = dict(list(bm25.items())[: max(k, 1)])
        elif mode == "dense":
            fused = dict(dense)
        else:
            bmax = max(bm25.values(), default=0.0)
            cands = set(bm25) | set(dense)
            bm25.update(self.bm25_scores(query, 0, skip, ids=[p for p in dense if p not in bm25]))
            fused = fuse(cands, lambda p: bm25.get(p, 0.0), bmax, dense, self.dense_weight)
        ids = sorted(fused, key=lambda p: -fused[p])[:k]
        passages = self.index.store.passages(ids)
        self._prefetch(ids)
        return [Hit(passages[p], fused[p], dense.get(p, 0.0), bm25.get(p, 0.0) if mode != "dense" else 0.0) for p in ids]


def _not_in(skip: frozenset[str] | None) -> str:
    from qa.milvus.client import quote

    return f"doc_id not in {quote(sorted(skip))}" if skip else ""
