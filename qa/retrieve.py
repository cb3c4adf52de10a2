"""Load a built index and search it: BM25 and dense (FAISS) scores fused into one ranking."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.config import Config
from qa.errors import IndexCorrupt, IndexMissing
from qa.index import check_compatible, current_generation, read_manifest
from qa.lexical import Lexical
from qa.store import PassageRow, Store


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


class LoadedIndex:
    """One generation opened for reading: store, vectors (FAISS) and BM25."""

    def __init__(self, gen: Path, cfg: Config) -> None:
        import faiss

        self.gen = gen
        self.manifest = read_manifest(gen)
        check_compatible(self.manifest, cfg)
        try:
            self.store = Store(gen / "store.sqlite", readonly=True)
            counts = self.store.counts()
            self.faiss = faiss.read_index(str(gen / "faiss.index"))
            self.ids = np.load(gen / "ids.npy", allow_pickle=False)
            self.sentvecs = np.load(gen / "sentvecs.npy", allow_pickle=False)
            self.sent_offsets = np.load(gen / "sent_offsets.npy", allow_pickle=False)
            self.lexical = Lexical.load(gen / "bm25")
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise IndexCorrupt(f"the index in {gen} is damaged ({type(exc).__name__}): run `qa index --rebuild`") from exc
        except Exception as exc:  # sqlite3.DatabaseError and friends
            raise IndexCorrupt(f"the index in {gen} is damaged ({type(exc).__name__}): run `qa index --rebuild`") from exc
        n = int(self.manifest.get("passages", -1))
        sizes = {n, counts["passages"], int(self.faiss.ntotal), len(self.ids), self._bm25_docs()}
        if len(sizes) != 1 or self.faiss.d != int(self.manifest.get("dim", -1)):
            raise IndexCorrupt(f"the index in {gen} is inconsistent (passages, vectors and BM25 disagree): run `qa index --rebuild`")
        if len(self.sent_offsets) != len(self.ids) + 1 or int(self.sent_offsets[-1]) != len(self.sentvecs):
            raise IndexCorrupt(f"the index in {gen} is inconsistent (sentence vectors): run `qa index --rebuild`")
        if counts["passages"] and self.store.passage_ids() != self.ids.tolist():
            raise IndexCorrupt(f"the index in {gen} is inconsistent (passage ids differ): run `qa index --rebuild`")
        self.row_of = {int(pid): i for i, pid in enumerate(self.ids)}
        if self.manifest.get("faiss") == "hnsw":
            faiss.downcast_index(self.faiss.index).hnsw.efSearch = 128

    def _bm25_docs(self) -> int:
        scores = getattr(self.lexical.retriever, "scores", None) or {}
        return int(scores.get("num_docs", 0))

    @property
    def size(self) -> int:
        return len(self.ids)

    def close(self) -> None:
        self.store.close()


def open_index(cfg: Config) -> LoadedIndex:
    """The live index for cfg; IndexMissing when none is built."""
    gen = current_generation(cfg.index_dir) if cfg.index_dir.is_dir() else None
    if gen is None:
        raise IndexMissing(f"no index in {cfg.index_dir}: run `qa index` first")
    try:
        return LoadedIndex(gen, cfg)
    except FileNotFoundError:  # a writer replaced the generation while we opened it: once more
        gen = current_generation(cfg.index_dir)
        if gen is None:
            raise IndexMissing(f"no index in {cfg.index_dir}: run `qa index` first") from None
        return LoadedIndex(gen, cfg)


class Retriever:
    """Ranks passages for a query with BM25, dense vectors, or both fused."""

    def __init__(self, index: LoadedIndex, embedder, dense_weight: float = 0.35, pool: int = 100) -> None:
        self.index = index
        self.embedder = embedder
        self.dense_weight = dense_weight
        self.pool = pool
        self._qcache: dict[str, np.ndarray] = {}

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

    def sentence_scores(self, query: str, passage_id: int) -> np.ndarray:
        """Cosine of the query to each sentence of a passage (pooled at indexing time)."""
        r = self.index.row_of[passage_id]
        block = self.index.sentvecs[self.index.sent_offsets[r]:self.index.sent_offsets[r + 1]].astype(np.float32)
        return block @ self.query_vector(query)[0]

    def dense_scores(self, query: str, k: int) -> dict[int, float]:
        """Cosine similarity of the query to its k nearest passages, by row."""
        if self.index.size == 0:
            return {}
        vec = self.query_vector(query)
        scores, ids = self.index.faiss.search(vec, min(k, self.index.size))
        return {self.index.row_of[int(pid)]: float(s) for s, pid in zip(scores[0], ids[0]) if pid >= 0}

    def search(self, query: str, k: int = 10, mode: str = "hybrid") -> list[Hit]:
        """The k best passages for the query."""
        n = self.index.size
        if n == 0:
            return []
        bm25 = self.index.lexical.scores(query) if mode != "dense" else np.zeros(n, np.float32)
        dense = self.dense_scores(query, max(self.pool, k)) if mode != "bm25" else {}
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
        cands = set(top_bm25) | set(dense)
        bmax = float(bm25.max()) if len(bm25) else 0.0
        dvals = list(dense.values())
        dmin = min(dvals) if dvals else 0.0
        dmax = max(dvals) if dvals else 0.0
        w = self.dense_weight
        out: dict[int, float] = {}
        for r in cands:
            b = float(bm25[r]) / bmax if bmax > 0 else 0.0
            d = dense.get(r, dmin)
            dn = (d - dmin) / (dmax - dmin) if dmax > dmin else 0.0
            out[r] = w * dn + (1 - w) * b
        return out
