"""A generation on a Milvus server opened for reading: the same surface as qa.generation.LoadedIndex.

The answer engine reads `index.store` (articles, sentences, passages), `index.lexical` (the BM25
vocabulary: which words the index knows and in how many passages) and `index.manifest`; the retriever
asks the server for BM25 and dense candidates (qa.milvus.retrieve).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from qa.config import Config
from qa.corpus import Article
from qa.errors import IndexCorrupt, IndexMissing
from qa.generation import check_compatible
from qa.milvus.client import SENTENCE_SLOTS, Milvus, Names, join_blob, quote
from qa.segment import Span
from qa.store import ArticleInfo, PassageRow

PASSAGE_FIELDS = ["id", "doc_id", "start", "end", "first_sentence", "last_sentence", "text"]
_CACHE = 512


def read_meta(db: Milvus, names: Names, kind: str) -> object:
    """One blob of a generation's meta collection ("manifest" or "terms")."""
    rows = db.query(names.meta, f'kind == "{kind}"', ["part", "blob"])
    return join_blob(rows, f"the {kind} of {names.gen} on {db.uri}")


class Terms:
    """The BM25 vocabulary of a generation: the same `vocab`, `df`, `idf`, `num_docs` as qa.lexical.Lexical."""

    def __init__(self, df: dict[str, int], num_docs: int) -> None:
        self.vocab = df
        self.num_docs = num_docs

    def df(self, token: str) -> int:
        """How many passages hold the token."""
        return int(self.vocab.get(token, 0))

    def idf(self, token: str) -> float:
        """BM25's IDF weight of a token, log(1 + (N - df + 0.5) / (df + 0.5)); 0 for unknown tokens."""
        if token not in self.vocab:
            return 0.0
        df, n = self.df(token), self.num_docs
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))


class MilvusStore:
    """The read side of qa.store.Store, over a generation's collections."""

    def __init__(self, db: Milvus, names: Names, manifest: dict) -> None:
        self.db, self.names, self.manifest = db, names, manifest
        self._articles: dict[str, tuple[Article, list[Span]]] = {}

    def close(self) -> None:
        self.db.close()

    def _article(self, doc_id: str) -> tuple[Article, list[Span]]:
        if doc_id not in self._articles:
            rows = self.db.query(self.names.articles, f"doc_id == {quote([doc_id])[1:-1]}",
                                 ["part", "path", "title", "date", "source", "url", "hash", "blob"])
            if not rows:
                raise KeyError(doc_id)
            head = min(rows, key=lambda r: r["part"])
            body = join_blob(rows, f"article {doc_id} on {self.db.uri}")
            art = Article(doc_id, head["path"], body["text"], head["title"], head["date"], head["source"], head["url"], head["hash"])
            if len(self._articles) >= _CACHE:
                self._articles.pop(next(iter(self._articles)))
            self._articles[doc_id] = (art, [Span(s, e) for s, e in body["spans"]])
        return self._articles[doc_id]

    def article(self, doc_id: str) -> Article:
        """The stored article (cached)."""
        return self._article(doc_id)[0]

    def sentences(self, doc_id: str) -> list[Span]:
        """Sentence spans of an article, in order (cached)."""
        return self._article(doc_id)[1]

    def listing(self) -> list[ArticleInfo]:
        """Title, date and source of every article, in doc_id order."""
        rows = self.db.rows(self.names.articles, "part == 0", ["doc_id", "title", "date", "source"])
        return sorted((ArticleInfo(r["doc_id"], r["title"], r["date"], r["source"]) for r in rows), key=lambda a: a.doc_id)

    def doc_ids(self) -> list[str]:
        return sorted(r["doc_id"] for r in self.db.rows(self.names.articles, "part == 0", ["doc_id"]))

    def counts(self) -> dict[str, int]:
        """Number of articles, sentences and passages."""
        return {"articles": len(self.manifest.get("articles", {})), "sentences": int(self.manifest.get("sentences", 0)),
                "passages": self.db.count(self.names.passages)}

    def passages(self, ids: list[int]) -> dict[int, PassageRow]:
        """The passages with these ids."""
        out: dict[int, PassageRow] = {}
        for start in range(0, len(ids), 500):
            chunk = [int(i) for i in ids[start:start + 500]]
            for r in self.db.query(self.names.passages, f"id in {chunk}", PASSAGE_FIELDS):
                out[int(r["id"])] = row(r)
        return out

    def passage_ids_of(self, doc_id: str) -> list[int]:
        """The ids of one article's passages."""
        return sorted(int(r["id"]) for r in self.db.query(self.names.passages, f"doc_id == {quote([doc_id])[1:-1]}", ["id"]))

    def passage_texts_of(self, doc_id: str) -> list[tuple[int, str]]:
        """(start, text) of one article's passages, in id order."""
        rows = self.db.query(self.names.passages, f"doc_id == {quote([doc_id])[1:-1]}", ["id", "start", "text"])
        return [(int(r["start"]), r["text"]) for r in sorted(rows, key=lambda r: r["id"])]

    def passage_ids(self) -> list[int]:
        return sorted(int(r["id"]) for r in self.db.rows(self.names.passages, "", ["id"]))

    def passage_docs(self) -> list[str]:
        """The article of every passage, in id order."""
        rows = self.db.rows(self.names.passages, "", ["id", "doc_id"])
        return [r["doc_id"] for r in sorted(rows, key=lambda r: r["id"])]

    def iter_passages(self) -> Iterable[PassageRow]:
        """All passages in id order."""
        return [row(r) for r in sorted(self.db.rows(self.names.passages, "", PASSAGE_FIELDS), key=lambda r: r["id"])]

    def sentence_vectors(self, passage_ids: list[int]) -> dict[int, np.ndarray]:
        """The pooled sentence vectors of these passages (rows in sentence order), read by primary key: each
        passage's sentence count gives its keys (a filter on passage_id would scan the whole collection)."""
        out: dict[int, list[tuple[int, list[float]]]] = {int(p): [] for p in passage_ids}
        rows = self.passages([int(p) for p in passage_ids])
        keys = [sentence_key(p, j) for p in out if p in rows for j in range(rows[p].last_sentence - rows[p].first_sentence)]
        for start in range(0, len(keys), 1000):
            for r in self.db.query(self.names.sentences, f"key in {keys[start:start + 1000]}", ["key", "passage_id", "vector"]):
                out[int(r["passage_id"])].append((int(r["key"]), r["vector"]))
        return {
            pid: np.asarray([v for _, v in sorted(vs, key=lambda kv: kv[0])], dtype=np.float32).reshape(len(vs), -1)
            for pid, vs in out.items()
        }


def row(r: dict) -> PassageRow:
    return PassageRow(int(r["id"]), r["doc_id"], int(r["start"]), int(r["end"]),
                      int(r["first_sentence"]), int(r["last_sentence"]), r["text"])


class MilvusIndex:
    """The live generation on a Milvus server, opened for reading."""

    backend = "milvus"

    def __init__(self, cfg: Config, db: Milvus | None = None) -> None:
        self.db = db or Milvus(cfg)
        try:
            gen = self.db.live()
            if gen is None:
                raise IndexMissing(f"no index on {cfg.backend} (prefix {cfg.milvus_prefix})")
            self.gen, self.names = gen, Names(cfg.milvus_prefix, gen)
            self.manifest = dict(read_meta(self.db, self.names, "manifest"))  # type: ignore[arg-type]
            check_compatible(self.manifest, cfg)
            terms = read_meta(self.db, self.names, "terms")
            self.lexical = Terms(dict(terms["df"]), int(terms["num_docs"]))  # type: ignore[index]
            self.store = MilvusStore(self.db, self.names, self.manifest)
            self.size = int(self.manifest.get("passages", -1))
            if len({self.size, self.lexical.num_docs, self.db.count(self.names.passages)}) != 1:
                raise IndexCorrupt(f"the index on {cfg.backend} is inconsistent (passages and BM25 disagree)")
            self.hnsw = self.manifest.get("faiss") == "hnsw"
        except BaseException:
            self.db.close()
            raise

    @property
    def retriever_class(self) -> type:
        from qa.milvus.retrieve import MilvusRetriever

        return MilvusRetriever

    def close(self) -> None:
        self.db.close()


def sentence_key(passage_id: int, j: int) -> int:
    """The primary key of a passage's j-th sentence vector."""
    return passage_id * SENTENCE_SLOTS + j
