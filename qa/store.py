"""The SQLite store of articles, sentences and passages inside one index generation."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from qa.corpus import Article
from qa.segment import Passage, Span

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    doc_id TEXT PRIMARY KEY, path TEXT NOT NULL, title TEXT NOT NULL, date TEXT NOT NULL,
    source TEXT NOT NULL, url TEXT NOT NULL, hash TEXT NOT NULL, text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sentences (
    doc_id TEXT NOT NULL, idx INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    PRIMARY KEY (doc_id, idx)
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL, last_sentence INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
"""


@dataclass(frozen=True)
class PassageRow:
    """A stored passage: its id, article, character span and sentence range."""

    id: int
    doc_id: str
    start: int
    end: int
    first_sentence: int
    last_sentence: int
    text: str


@dataclass(frozen=True)
class ArticleInfo:
    """What a listing shows of an article: no text."""

    doc_id: str
    title: str
    date: str
    source: str


class Store:
    """Articles, their sentences and passages, in one SQLite file."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        if readonly:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            self.conn = sqlite3.connect(path, check_same_thread=False)
            self.conn.executescript(SCHEMA)
        self._articles: dict[str, Article] = {}
        self._sentences: dict[str, list[Span]] = {}

    def close(self) -> None:
        self.conn.close()

    # writing -----------------------------------------------------------------
    def delete_article(self, doc_id: str) -> list[int]:
        """Remove an article and its rows; return the ids of the passages removed."""
        ids = [r[0] for r in self.conn.execute("SELECT id FROM passages WHERE doc_id=?", (doc_id,))]
        for table in ("articles", "sentences", "passages"):
            self.conn.execute(f"DELETE FROM {table} WHERE doc_id=?", (doc_id,))
        return ids

    def add_article(self, art: Article, sentences: list[Span], passages: list[Passage], first_id: int) -> list[PassageRow]:
        """Insert an article with its sentences and passages (ids from first_id); return the passages."""
        self.conn.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?)",
            (art.doc_id, art.path, art.title, art.date, art.source, art.url, art.content_hash, art.text),
        )
        self.conn.executemany(
            "INSERT INTO sentences VALUES (?,?,?,?)",
            [(art.doc_id, i, s.start, s.end) for i, s in enumerate(sentences)],
        )
        rows = [
            PassageRow(first_id + i, art.doc_id, p.start, p.end, p.first_sentence, p.last_sentence, art.text[p.start:p.end])
            for i, p in enumerate(passages)
        ]
        self.conn.executemany(
            "INSERT INTO passages VALUES (?,?,?,?,?,?,?)",
            [(r.id, r.doc_id, r.start, r.end, r.first_sentence, r.last_sentence, r.text) for r in rows],
        )
        return rows

    def commit(self) -> None:
        self.conn.commit()

    # reading -----------------------------------------------------------------
    def max_passage_id(self) -> int:
        row = self.conn.execute("SELECT MAX(id) FROM passages").fetchone()
        return -1 if row[0] is None else int(row[0])

    def passage_ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM passages ORDER BY id")]

    def passage_docs(self) -> list[str]:
        """The article of every passage, in id order (the texts stay on disk)."""
        return [r[0] for r in self.conn.execute("SELECT doc_id FROM passages ORDER BY id")]

    def passage_ids_of(self, doc_id: str) -> list[int]:
        """The ids of one article's passages."""
        return [r[0] for r in self.conn.execute("SELECT id FROM passages WHERE doc_id=? ORDER BY id", (doc_id,))]

    def passage_texts_of(self, doc_id: str) -> list[tuple[int, str]]:
        """(start, text) of one article's passages, in id order."""
        return self.conn.execute("SELECT start, text FROM passages WHERE doc_id=? ORDER BY id", (doc_id,)).fetchall()

    def iter_passages(self) -> Iterable[PassageRow]:
        """All passages in id order."""
        for row in self.conn.execute('SELECT id, doc_id, start, "end", first_sentence, last_sentence, text FROM passages ORDER BY id'):
            yield PassageRow(*row)

    def passages(self, ids: list[int]) -> dict[int, PassageRow]:
        """The passages with these ids."""
        out: dict[int, PassageRow] = {}
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start:chunk_start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f'SELECT id, doc_id, start, "end", first_sentence, last_sentence, text FROM passages WHERE id IN ({marks})',
                chunk,
            ):
                out[row[0]] = PassageRow(*row)
        return out

    def article(self, doc_id: str) -> Article:
        """The stored article (cached)."""
        if doc_id not in self._articles:
            row = self.conn.execute(
                "SELECT doc_id, path, text, title, date, source, url, hash FROM articles WHERE doc_id=?", (doc_id,)
            ).fetchone()
            if row is None:
                raise KeyError(doc_id)
            self._articles[doc_id] = Article(*row)
        return self._articles[doc_id]

    def sentences(self, doc_id: str) -> list[Span]:
        """Sentence spans of an article, in order (cached)."""
        if doc_id not in self._sentences:
            self._sentences[doc_id] = [
                Span(s, e)
                for s, e in self.conn.execute('SELECT start, "end" FROM sentences WHERE doc_id=? ORDER BY idx', (doc_id,))
            ]
        return self._sentences[doc_id]

    def listing(self) -> list[ArticleInfo]:
        """Title, date and source of every article, in doc_id order (the texts stay on disk)."""
        return [ArticleInfo(*r) for r in self.conn.execute("SELECT doc_id, title, date, source FROM articles ORDER BY doc_id")]

    def doc_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT doc_id FROM articles ORDER BY doc_id")]

    def counts(self) -> dict[str, int]:
        """Number of articles, sentences and passages."""
        return {
            table: self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("articles", "sentences", "passages")
        }

