"""Sync an index on a Milvus server with the corpus: one writer at a time, a new generation, then the alias.

A build writes a complete new generation (unchanged articles' rows copied from the live one, not
re-embedded; new and changed ones segmented and embedded), then switches the live alias to it; a build
killed before the switch leaves the previous generation answering, and the next build drops its debris.
The live generation and the one before it are kept (a reader that opened the old one keeps working).
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np

from qa.config import Config
from qa.corpus import Article
from qa.embed import Embedder
from qa.errors import IndexBusy, IndexCorrupt
from qa.faults import checkpoint
from qa.milvus.client import Milvus, Names, blob_parts, create_generation, new_generation, pad
from qa.milvus.index import read_meta, sentence_key
from qa.milvus.terms import document_frequencies, passage_terms
from qa.segment import make_passages, sentence_spans
from qa.store import PassageRow

_INSERT_PASSAGES = 2000


def live_manifest(db: Milvus, cfg: Config) -> Callable[[], dict] | None:
    """A reader of the live generation's manifest, or None when nothing is published."""
    gen = db.live()
    if gen is None:
        return None
    return lambda: dict(read_meta(db, Names(cfg.milvus_prefix, gen), "manifest"))  # type: ignore[arg-type]


def sync_milvus(cfg: Config, scan, files: dict, embedder_factory: Callable[[], Embedder], rebuild: bool,
                dry_run: bool, progress, lock_wait: float):
    """qa.index.sync for an index on a Milvus server (scan: the corpus read, files: its fingerprint)."""
    from qa.index import BuildJob, SyncReport, plan_from

    db = Milvus(cfg)
    try:
        if dry_run:
            return SyncReport(plan_from(scan.articles, live_manifest(db, cfg), cfg, rebuild), scan.warnings)
        with writer_lock(db, lock_wait):
            gen = db.live()
            plan = plan_from(scan.articles, live_manifest(db, cfg), cfg, rebuild)
            report = SyncReport(plan, scan.warnings)
            _drop_debris(db, gen)
            if not plan.changed and gen is not None:
                return _keep(db, Names(cfg.milvus_prefix, gen), files, report)
            checkpoint("locked")
            job = BuildJob(cfg, scan.articles, plan, files, embedder_factory(), None, progress)
            new = Names(cfg.milvus_prefix, new_generation())
            try:
                report.passages_embedded, report.passages_total = _build(db, new, None if plan.rebuild else gen, job)
                checkpoint("written")
                db.switch(new.gen)
                checkpoint("switched")
            except BaseException:
                _quietly(db.drop, new.gen)
                raise
            report.generation = new.gen
            _drop_debris(db, new.gen)
            return report
    finally:
        db.close()


# --- the writer lock ------------------------------------------------------------------------

@contextmanager
def writer_lock(db: Milvus, wait: float) -> Iterator[None]:
    """Hold the index's write lock (an alias only one writer can create); IndexBusy when another holds it past
    `wait` seconds. A lock whose holder died on this machine is taken over."""
    alias, mine = f"{db.prefix}_writer", f"{db.prefix}_lock_{uuid.uuid4().hex[:12]}"
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with db.errors("lock the index on"):
        _lock_collection(db, mine, owner)
    deadline = time.monotonic() + wait
    try:
        while not _try_alias(db, mine, alias):
            holder = _holder(db, alias)
            if holder is not None and holder.get("host") == owner["host"] and not _alive(int(holder.get("pid", -1))):
                dead = _holder_collection(db, alias)  # its writer was killed: the lock is ours to take
                _quietly(db.client.drop_alias, alias)
                if dead and dead != mine:
                    _quietly(db.client.drop_collection, dead)
                continue
            if time.monotonic() >= deadline:
                who = f" (pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('since')})" if holder else ""
                raise IndexBusy(f"another process{who} is writing the index on {db.uri}")
            time.sleep(0.2)
        yield
    finally:
        if _holder_collection(db, alias) == mine:
            _quietly(db.client.drop_alias, alias)
        _quietly(db.client.drop_collection, mine)


def _lock_collection(db: Milvus, name: str, owner: dict) -> None:
    from pymilvus import DataType

    schema = db.client.create_schema(auto_id=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=16)
    schema.add_field("owner", DataType.VARCHAR, max_length=1024)
    schema.add_field("pad", DataType.FLOAT_VECTOR, dim=len(pad()))
    params = db.client.prepare_index_params()
    params.add_index(field_name="pad", index_type="FLAT", metric_type="L2")
    db.client.create_collection(name, schema=schema, index_params=params)
    db.client.insert(name, [{"key": "owner", "owner": json.dumps(owner), "pad": pad()}])
    db.client.load_collection(name)


def _try_alias(db: Milvus, mine: str, alias: str) -> bool:
    from pymilvus.exceptions import MilvusException

    try:
        db.client.create_alias(mine, alias)
        return True
    except MilvusException:
        if _holder_collection(db, alias) is None:  # not a clash with another writer: the server is failing
            with db.errors("lock the index on"):
                db.client.create_alias(mine, alias)
            return True
        return False


def _holder_collection(db: Milvus, alias: str) -> str | None:
    try:
        if alias not in db.client.list_aliases().get("aliases", []):
            return None
        return db.client.describe_alias(alias)["collection_name"]
    except Exception:  # noqa: BLE001 - reported by the caller
        return None


def _holder(db: Milvus, alias: str) -> dict | None:
    name = _holder_collection(db, alias)
    try:
        rows = db.client.query(name, filter='key == "owner"', output_fields=["owner"]) if name else []
        return json.loads(rows[0]["owner"]) if rows else None
    except Exception:  # noqa: BLE001 - a lock collection being dropped
        return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _quietly(fn: Callable, *args) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - cleanup after a failure already being reported
        pass


# --- generations ----------------------------------------------------------------------------

def _drop_debris(db: Milvus, live: str | None) -> None:
    """Drop every generation but the live one and the newest one before it (only under the lock)."""
    gens = sorted(db.generations())
    older = [g for g in gens if live is not None and g < live]
    keep = {live, older[-1] if older else None}
    for gen in gens:
        if gen not in keep:
            db.drop(gen)


def _keep(db: Milvus, names: Names, files: dict, report):
    """Nothing to build: record the corpus's new file times in the live manifest."""
    manifest = dict(read_meta(db, names, "manifest"))  # type: ignore[arg-type]
    if manifest.get("files") != files:
        manifest["files"] = files
        _write_meta(db, names, "manifest", manifest, upsert=True)
    report.passages_total = int(manifest.get("passages", 0))
    report.generation = names.gen
    return report


def _write_meta(db: Milvus, names: Names, kind: str, value: object, upsert: bool = False) -> None:
    parts = blob_parts(value)
    rows = [{"key": f"{kind}/{i:06d}", "kind": kind, "part": i, "blob": p, "pad": pad()} for i, p in enumerate(parts)]
    with db.errors("write the index on"):
        if upsert:
            db.client.upsert(names.meta, rows)
            db.client.delete(names.meta, filter=f'kind == "{kind}" and part >= {len(parts)}')
        else:
            db.client.insert(names.meta, rows)
        db.client.flush(names.meta)


# --- building -------------------------------------------------------------------------------

def _build(db: Milvus, new: Names, prev: str | None, job) -> tuple[int, int]:
    """Write a complete generation: the previous one's unchanged rows copied, new articles embedded."""
    dropped = set(job.plan.removed) | set(job.plan.updated)
    todo = set(job.plan.added) | set(job.plan.updated)
    old = Names(new.prefix, prev) if prev else None
    kept_passages = db.count(old.passages, _not_in_docs(dropped)) if old else 0
    fresh = [a for a in job.articles if a.doc_id in todo]
    segmented = [(a, sentence_spans(a.text)) for a in fresh]
    cuts = [make_passages(a.text, spans, job.cfg.chunk) for a, spans in segmented]
    create_generation(db, new, job.embedder.dim, kept_passages + sum(map(len, cuts)))
    tokens: list[list[str]] = []
    next_id, sentences = 0, 0
    if old:
        next_id, sentences = _copy(db, old, new, dropped, tokens)
    rows: list[PassageRow] = []
    for (art, spans), passages in zip(segmented, cuts):
        _insert_article(db, new, art, spans)
        sentences += len(spans)
        rows += [PassageRow(next_id + i, art.doc_id, p.start, p.end, p.first_sentence, p.last_sentence, art.text[p.start:p.end])
                 for i, p in enumerate(passages)]
        next_id += len(passages)
    _embed_and_insert(db, new, rows, {a.doc_id: s for a, s in segmented}, job, tokens)
    checkpoint("embedded")
    for name in new.all():
        with db.errors("write the index on"):
            db.client.flush(name)
            db.client.load_collection(name)
    total = db.count(new.passages)
    if total != len(tokens):
        raise IndexCorrupt("passages and BM25 terms disagree while building")
    df, n = document_frequencies(tokens)
    _write_meta(db, new, "terms", {"df": df, "num_docs": n})
    _write_meta(db, new, "manifest", _manifest(job, total, sentences))
    return len(rows), total


def _not_in_docs(docs: set[str]) -> str:
    from qa.milvus.client import quote

    return f"doc_id not in {quote(sorted(docs))}" if docs else ""


def _copy(db: Milvus, old: Names, new: Names, dropped: set[str], tokens: list[list[str]]) -> tuple[int, int]:
    """Copy the unchanged articles' rows into the new generation; the next free passage id and their sentences."""
    next_id, sentences, kept_ids = 0, 0, set()
    batch: list[dict] = []
    fields = ["id", "doc_id", "start", "end", "first_sentence", "last_sentence", "text", "vector"]
    for r in db.rows(old.passages, "", fields, batch=1000):
        next_id = max(next_id, int(r["id"]) + 1)
        if r["doc_id"] in dropped:
            continue
        kept_ids.add(int(r["id"]))
        toks, terms = passage_terms(r["text"])  # read anew: an older qa may have read its words otherwise
        tokens.append(toks)
        batch.append({**{k: r[k] for k in fields}, "terms": terms})
        if len(batch) >= 1000:
            db.insert(new.passages, batch)
            batch = []
    db.insert(new.passages, batch)
    batch = []
    for r in db.rows(old.sentences, "", ["key", "passage_id", "vector"], batch=2000):
        if int(r["passage_id"]) in kept_ids:
            batch.append({"key": r["key"], "passage_id": r["passage_id"], "vector": r["vector"]})
        if len(batch) >= 2000:
            db.insert(new.sentences, batch)
            batch = []
    db.insert(new.sentences, batch)
    fields = ["key", "doc_id", "part", "path", "title", "date", "source", "url", "hash", "sentences", "blob"]
    batch = []
    for r in db.rows(old.articles, "", fields, batch=200):
        if r["doc_id"] not in dropped:
            sentences += int(r["sentences"])
            batch.append({**{k: r[k] for k in fields}, "pad": pad()})
    db.insert(new.articles, batch)
    return next_id, sentences


def _insert_article(db: Milvus, new: Names, art: Article, spans) -> None:
    parts = blob_parts({"text": art.text, "spans": [[s.start, s.end] for s in spans]})
    meta = {"path": art.path, "title": art.title, "date": art.date, "source": art.source, "url": art.url, "hash": art.content_hash}
    db.insert(new.articles, [
        {"key": f"{art.doc_id}/{i:06d}", "doc_id": art.doc_id, "part": i, "sentences": len(spans) if i == 0 else 0,
         **(meta if i == 0 else dict.fromkeys(meta, "")), "blob": p, "pad": pad()}
        for i, p in enumerate(parts)
    ])


def _embed_and_insert(db: Milvus, new: Names, rows: list[PassageRow], spans_of: dict, job, tokens: list[list[str]]) -> None:
    """Embed the new passages and their sentences (reporting progress) and insert them."""
    from qa.index import embed_rows

    built = embed_rows(rows, lambda doc_id: spans_of[doc_id], job)
    vectors, offsets = built.vectors, built.sent_offsets
    sentvecs = built.sentvecs.astype(np.float32)  # rounded through float16, as the local index stores them
    for start in range(0, len(rows), _INSERT_PASSAGES):  # rows as Python lists a batch at a time: bounded memory
        passages, sentences = [], []
        for i in range(start, min(start + _INSERT_PASSAGES, len(rows))):
            r = rows[i]
            toks, terms = passage_terms(r.text)
            tokens.append(toks)
            passages.append({"id": r.id, "doc_id": r.doc_id, "start": r.start, "end": r.end, "first_sentence": r.first_sentence,
                             "last_sentence": r.last_sentence, "text": r.text, "terms": terms, "vector": vectors[i].tolist()})
            sentences += [{"key": sentence_key(r.id, j), "passage_id": r.id, "vector": sentvecs[offsets[i] + j].tolist()}
                          for j in range(offsets[i + 1] - offsets[i])]
        db.insert(new.passages, passages)
        db.insert(new.sentences, sentences)


def _manifest(job, passages: int, sentences: int) -> dict:
    from qa.index import manifest_fields, query_export

    from qa.milvus import client

    faiss_kind = "hnsw" if passages >= client.HNSW_THRESHOLD else "flat"  # as create_generation chose
    counts = {"passages": passages, "sentences": sentences}
    return {**manifest_fields(job, faiss_kind, counts), **query_export(job.embedder), "backend": "milvus"}
