"""Sync the index with the corpus: plan what changed, then build a new generation and publish it.

A build starts from the live generation: it copies its store, drops the passages of removed and
changed articles, embeds only the new passages and writes every file of a complete generation into a
workspace, which qa.generation then publishes crash-safely. The files and their loading live there.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from qa.config import Config
from qa.corpus import Article, fingerprint, no_articles, require_corpus_dir, scan_corpus
from qa.deltas import digest_for
from qa.embed import Embedder
from qa.errors import CorpusError, Fix, IndexBusy, IndexCorrupt, IndexIncompatible, IndexMissing, IndexWriteError
from qa.faults import checkpoint
from qa.generation import (
    FORMAT_VERSION,
    TOKENS_VERSION,
    Layout,
    Vectors,
    check_compatible,
    cleanup_stale,
    current_generation,
    discard,
    expected_settings,
    new_workspace,
    publish,
    read_manifest,
    write_manifest,
    writer_lock,
)
from qa.lexical import Lexical
from qa.segment import make_passages, sentence_spans
from qa.store import PassageRow, Store

__all__ = ["SyncPlan", "SyncReport", "current_generation", "is_stale", "needs_sync", "outdated", "plan_from", "plan_sync", "read_manifest", "reads_only", "refuse_reader", "sync"]

HNSW_THRESHOLD = 50_000
Progress = Callable[[int, int], None]


@dataclass
class SyncPlan:
    """What a sync will do, by document id."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rebuild: bool = False
    reason: str = ""
    retokenize: bool = False  # the index reads words as an older qa did: its BM25 is rebuilt, its vectors kept

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.rebuild or self.retokenize)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.removed)} removed, {len(self.unchanged)} unchanged"
            + (", words re-read (BM25 rebuilt, vectors kept)" if self.retokenize and not self.rebuild else "")
        )


@dataclass
class SyncReport:
    """The outcome of a sync: the plan, warnings about skipped files, counts and time."""

    plan: SyncPlan
    warnings: list[str]
    passages_embedded: int = 0
    passages_total: int = 0
    seconds: float = 0.0
    generation: str = ""


@dataclass
class BuildJob:
    """What one build reads: settings, corpus, plan and embedder, and the generation it starts from."""

    cfg: Config
    articles: list[Article]
    plan: SyncPlan
    files: dict[str, list[int]]  # the corpus fingerprint the manifest records
    embedder: Embedder
    prev: Path | None = None  # the live generation to reuse (None: build from scratch)
    progress: Progress | None = None


@dataclass(frozen=True)
class Built:
    """A generation a build wrote: its folder, the passages embedded and the passages it holds."""

    gen: Path
    embedded: int
    total: int


# --- planning -------------------------------------------------------------------------------

def plan_sync(articles: list[Article], gen: Path | None, cfg: Config, rebuild: bool) -> SyncPlan:
    """Compare the corpus with the live generation."""
    return plan_from(articles, None if gen is None else (lambda: read_manifest(gen)), cfg, rebuild)


def plan_from(articles: list[Article], live: Callable[[], dict] | None, cfg: Config, rebuild: bool) -> SyncPlan:
    """Compare the corpus with the live index, whose manifest `live` reads (None when nothing is built)."""
    plan = SyncPlan()
    old: dict[str, str] = {}
    if live is not None and not rebuild:
        try:
            manifest = live()
            check_compatible(manifest, cfg)
            old = dict(manifest.get("articles", {}))
            plan.retokenize = older_tokens(manifest)
        except (IndexCorrupt, IndexIncompatible) as exc:
            plan.rebuild, plan.reason = True, str(exc)
    elif live is not None:
        plan.rebuild, plan.reason = True, "--rebuild"
    if live is None:
        plan.rebuild, plan.reason = True, "no index yet"
    for art in articles:
        if plan.rebuild or art.doc_id not in old:
            plan.added.append(art.doc_id)
        elif old[art.doc_id] != art.content_hash:
            plan.updated.append(art.doc_id)
        else:
            plan.unchanged.append(art.doc_id)
    present = {a.doc_id for a in articles}
    plan.removed = sorted(d for d in old if d not in present) if not plan.rebuild else []
    return plan


def reads_only(cfg: Config) -> bool:
    """Whether this machine only reads a shared (Milvus) index: it has no corpus folder, or an empty one."""
    return cfg.milvus and (not cfg.corpus_dir.is_dir() or not fingerprint(cfg.corpus_dir))


def refuse_reader(cfg: Config) -> None:
    """CorpusError when this machine only reads a shared index that holds articles: a sync from here would drop them."""
    if not reads_only(cfg):
        return
    from qa.milvus.client import Milvus
    from qa.milvus.sync import live_manifest

    db = Milvus(cfg)
    try:
        live = live_manifest(db, cfg)
        held = len(live().get("articles", {})) if live is not None else 0
    finally:
        db.close()
    if held:
        raise CorpusError(f"{cfg.corpus_dir} holds none of the {held} articles of the index on {cfg.where}: "
                          "a sync from here would remove them", fix=Fix.WRITER)


def is_stale(cfg: Config, manifest: dict) -> bool:
    """Whether the corpus files differ (by size or time) from those the index was built from."""
    if not cfg.corpus_dir.is_dir():
        return False
    files = fingerprint(cfg.corpus_dir)
    if cfg.milvus and not files:  # a machine that only reads the shared index (reads_only): nothing to compare
        return False
    return files != manifest.get("files")


def outdated(cfg: Config, manifest: dict, words: bool = True) -> bool:
    """Whether a sync must run: the corpus files changed, or the index was embedded by an older qa (an older format,
    or other fitted encoder deltas: qa.deltas), which a sync rebuilds, or (`words`) its BM25 reads words as an older qa
    did, which a sync rebuilds keeping the vectors. A newer qa's index is never outdated here: loading it refuses it
    (IndexIncompatible), rather than a sync overwriting it."""
    fmt = manifest.get("format")
    if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
        return False
    return (fmt < FORMAT_VERSION or manifest.get("encoder_deltas") != digest_for(cfg.model)
            or (words and older_tokens(manifest)) or is_stale(cfg, manifest))


def older_tokens(manifest: dict) -> bool:
    """Whether the index's BM25 reads words as an older qa did (a sync rebuilds it, keeping the vectors)."""
    tokens = manifest.get("tokens", 0)
    return not isinstance(tokens, int) or tokens < TOKENS_VERSION


def needs_sync(cfg: Config) -> bool:
    """Whether the index must be built or synced before use (CorpusError: no corpus folder; IndexMissing: on Milvus,
    neither articles here nor an index on the server). On Milvus, a machine without articles reads the live index."""
    if cfg.milvus:
        from qa.milvus.client import Milvus
        from qa.milvus.sync import live_manifest

        db = Milvus(cfg)
        try:
            live, reader = live_manifest(db, cfg), reads_only(cfg)  # the corpus folder walked once here, once in is_stale
            if live is None and reader:
                raise IndexMissing(f"no index named {cfg.milvus_prefix} on {cfg.where}, and no articles in {cfg.corpus_dir} "
                                   "to build one", fix=Fix.PREFIX)
            # a reader can't rebuild it; an older reading of words it can still search
            if live is not None and reader and outdated(cfg, live(), words=False):
                raise IndexIncompatible(f"the index on {cfg.where} was embedded by another version of qa",
                                        fix=Fix.VERSION)
            return live is None or (not reader and outdated(cfg, live()))
        finally:
            db.close()
    require_corpus_dir(cfg.corpus_dir)
    gen = current_generation(cfg.index_dir) if cfg.index_dir.is_dir() else None
    return gen is None or outdated(cfg, read_manifest(gen))


# --- syncing --------------------------------------------------------------------------------

def sync(
    cfg: Config,
    embedder_factory: Callable[[], Embedder],
    rebuild: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    lock_wait: float = 0.0,
) -> SyncReport:
    """Bring the index in line with the corpus: embed new and changed articles, drop removed ones (and rebuild BM25
    when it reads words as an older qa did: `SyncPlan.retokenize`).

    A corpus with no readable article is refused (CorpusError): the index, if any, is left as it was.
    """
    started = time.perf_counter()
    require_corpus_dir(cfg.corpus_dir)
    files = fingerprint(cfg.corpus_dir)  # before reading: a file changed meanwhile leaves the index stale
    scan = scan_corpus(cfg.corpus_dir, cfg.max_file_bytes)
    if not scan.articles:
        raise no_articles(scan, cfg.corpus_dir)
    if cfg.milvus:
        from qa.milvus.sync import sync_milvus

        report = sync_milvus(cfg, scan, files, embedder_factory, rebuild, dry_run, progress, lock_wait)
        report.seconds = time.perf_counter() - started if report.plan.changed and not dry_run else 0.0
        return report
    if dry_run:
        gen = current_generation(cfg.index_dir) if cfg.index_dir.is_dir() else None
        return SyncReport(plan_sync(scan.articles, gen, cfg, rebuild), scan.warnings)
    _make_index_dir(cfg.index_dir)
    with writer_lock(cfg.index_dir, lock_wait):
        gen = _live_generation(cfg.index_dir)
        plan = plan_sync(scan.articles, gen, cfg, rebuild)
        report = SyncReport(plan, scan.warnings)
        if not plan.changed and gen is not None:
            return _keep(gen, files, report)
        checkpoint("locked")
        job = BuildJob(cfg, scan.articles, plan, files, embedder_factory(), None if plan.rebuild else gen, progress)
        built = _build_and_publish(cfg.index_dir, job)
        report.passages_embedded, report.passages_total, report.generation = built.embedded, built.total, built.gen.name
        cleanup_stale(cfg.index_dir, built.gen)
        report.seconds = time.perf_counter() - started
        return report


def _make_index_dir(index_dir: Path) -> None:
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexWriteError(f"cannot create the index folder {index_dir} ({exc.strerror})") from exc


def _live_generation(index_dir: Path) -> Path | None:
    """The live generation, or None when there is none or its pointer is damaged (a sync rebuilds)."""
    try:
        return current_generation(index_dir)
    except IndexCorrupt:
        return None


def _keep(gen: Path, files: dict[str, list[int]], report: SyncReport) -> SyncReport:
    """Nothing to build: record the corpus's new file times and clear debris."""
    manifest = read_manifest(gen)
    if manifest.get("files") != files:
        manifest["files"] = files
        write_manifest(gen, manifest)
    report.passages_total = int(manifest.get("passages", 0))
    report.generation = gen.name
    cleanup_stale(gen.parent, gen)
    return report


def _build_and_publish(index_dir: Path, job: BuildJob) -> Built:
    """Build a generation in a workspace and publish it as the live one."""
    workspace = new_workspace(index_dir)
    try:
        workspace.mkdir()
        built = _build_generation(workspace, job)
        checkpoint("written")
        return replace(built, gen=publish(workspace, index_dir))
    except OSError as exc:
        discard(workspace)
        raise IndexWriteError(
            f"cannot write the index in {index_dir} ({exc.strerror or exc}); the previous index is unchanged"
        ) from exc
    except BaseException:
        discard(workspace)
        raise


# --- building one generation ----------------------------------------------------------------

def _build_generation(workspace: Path, job: BuildJob) -> Built:
    """Write a complete generation into workspace, reusing the previous one's vectors where unchanged."""
    files = Layout.of(workspace)
    old = _start_from(job, files)
    store = Store(files.store)
    try:
        dropped, new_rows = _update_store(store, job, old.ids)
        new = _embed(store, new_rows, job)
        checkpoint("embedded")
        merged = _merge(old, dropped, new)
        store.commit()
        if store.passage_ids() != merged.ids.tolist():
            raise IndexCorrupt("passages and vectors disagree while building")
        merged.save(files)
        faiss_kind = _write_faiss(merged.vectors, merged.ids, job.embedder.dim, files.faiss)
        Lexical.build([r.text for r in store.iter_passages()]).save(files.bm25)
        counts = store.counts()
        write_manifest(workspace, {**manifest_fields(job, faiss_kind, counts), **query_export(job.embedder)})
        return Built(workspace, embedded=len(new_rows), total=counts["passages"])
    finally:
        store.close()


def _start_from(job: BuildJob, files: Layout) -> Vectors:
    """Copy the previous generation's store into the workspace; its arrays (empty when building from scratch)."""
    if job.prev is None:
        return Vectors.empty(job.embedder.dim)
    prev = Layout.of(job.prev)
    shutil.copyfile(prev.store, files.store)
    return Vectors.load(prev)


def _update_store(store: Store, job: BuildJob, old_ids: np.ndarray) -> tuple[set[int], list[PassageRow]]:
    """Drop removed and changed articles, add new and changed ones; the ids dropped and the rows added."""
    dropped: set[int] = set()
    for doc_id in job.plan.removed + job.plan.updated:
        dropped.update(store.delete_article(doc_id))
    todo = set(job.plan.added) | set(job.plan.updated)
    next_id = max(store.max_passage_id(), int(old_ids.max()) if len(old_ids) else -1) + 1
    new_rows: list[PassageRow] = []
    for art in job.articles:
        if art.doc_id not in todo:
            continue
        spans = sentence_spans(art.text)
        rows = store.add_article(art, spans, make_passages(art.text, spans, job.cfg.chunk), next_id)
        next_id += len(rows)
        new_rows.extend(rows)
    return dropped, new_rows


def _embed(store: Store, rows: list[PassageRow], job: BuildJob) -> Vectors:
    """Embed the new passages and their sentences, reporting progress."""
    return embed_rows(rows, store.sentences, job)


def embed_rows(rows: list[PassageRow], sentences_of: Callable, job) -> Vectors:
    """Embed passages and their sentences (`sentences_of(doc_id)`: an article's sentence spans), reporting
    progress to `job.progress`; both backends build with it."""
    total, done = len(rows), 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if job.progress:
            job.progress(done, total)

    if job.progress:
        job.progress(0, total)
    spans = [
        [(s.start - r.start, s.end - r.start) for s in sentences_of(r.doc_id)[r.first_sentence:r.last_sentence]]
        for r in rows
    ]
    vectors, sentvecs = job.embedder.encode_passages(
        [r.text for r in rows], spans, batch_size=job.cfg.batch_size, progress=tick
    )
    dim = job.embedder.dim
    return Vectors(
        ids=np.array([r.id for r in rows], dtype=np.int64),
        vectors=np.asarray(vectors, dtype=np.float32).reshape(-1, dim),
        sentvecs=np.asarray(sentvecs, dtype=np.float16).reshape(-1, dim),
        sent_offsets=np.cumsum([0] + [len(s) for s in spans]),
    )


def _merge(old: Vectors, dropped: set[int], new: Vectors) -> Vectors:
    """The previous generation's arrays without the dropped passages, plus the new ones, in id order."""
    keep = ~np.isin(old.ids, np.fromiter(dropped, dtype=np.int64, count=len(dropped)))
    blocks = [old.sentences(r) for r in np.flatnonzero(keep)] + [new.sentences(k) for k in range(len(new.ids))]
    ids = np.concatenate([old.ids[keep], new.ids])
    vectors = np.concatenate([old.vectors[keep], new.vectors])
    order = np.argsort(ids, kind="stable")
    blocks = [blocks[i] for i in order]
    sent_offsets = np.cumsum([0] + [len(b) for b in blocks]).astype(np.int64)
    dim = vectors.shape[1]
    sentvecs = np.concatenate(blocks) if blocks else np.zeros((0, dim), dtype=np.float16)
    return Vectors(ids[order], vectors[order], sentvecs, sent_offsets)


def query_export(embedder: Embedder) -> dict:
    """The manifest fields naming the model's ONNX exports, for questions and the reader, made now when missing
    ({} for a model with neither)."""
    from qa.answer.reader import fitted_for, unexported
    from qa.config import cache_root
    from qa.onnx_export import ensure_export, ensure_reader_export

    encoder = ensure_export(embedder, cache_root())
    if encoder is None:
        return {}
    fields = {"query_encoder": encoder[1].entry(encoder[0])}
    if fitted_for(getattr(embedder, "name", "")):
        reader = ensure_reader_export(embedder, cache_root())
        fields["reader"] = reader[1].entry(reader[0]) if reader else unexported(embedder.name)
    return fields


def record_query_export(cfg: Config, gen: Path, embedder: Embedder) -> dict:
    """Export the model for questions and the reader, and name the exports in the live generation's manifest (an
    index built before they existed); the entries, also when writing them is skipped because another process is
    writing or the folder is read-only."""
    entry = query_export(embedder)
    manifest = read_manifest(gen)
    if not entry or all(manifest.get(k) == v for k, v in entry.items()):
        return entry  # nothing to export, or the manifest names these exports already
    try:
        with writer_lock(cfg.index_dir, 0):
            if _live_generation(cfg.index_dir) == gen:
                write_manifest(gen, {**read_manifest(gen), **entry})
    except (IndexBusy, IndexWriteError, IndexCorrupt, OSError):
        pass
    return entry


def manifest_fields(job: BuildJob, faiss_kind: str, counts: dict[str, int]) -> dict:
    """The manifest of a generation built by job (either backend)."""
    return {
        **expected_settings(job.cfg, job.embedder.dim),
        "tokens": TOKENS_VERSION,
        "model_name": getattr(job.embedder, "name", job.cfg.model),
        "encoder_deltas": getattr(job.embedder, "deltas", digest_for(job.cfg.model)),  # those the vectors were made with
        "faiss": faiss_kind,
        "articles": {a.doc_id: a.content_hash for a in job.articles},
        "passages": counts["passages"],
        "files": job.files,
        "sentences": counts["sentences"],
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _write_faiss(vectors: np.ndarray, ids: np.ndarray, dim: int, path: Path) -> str:
    """Write a FAISS inner-product index with explicit ids: exact when small, HNSW when large."""
    import faiss

    if len(ids) >= HNSW_THRESHOLD:
        base = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = 80
        kind = "hnsw"
    else:
        base = faiss.IndexFlatIP(dim)
        kind = "flat"
    index = faiss.IndexIDMap2(base)
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64))
    faiss.write_index(index, str(path))
    return kind
