"""The on-disk index: build, sync and load generations of FAISS + BM25 + SQLite, crash-safely.

Layout of the index folder:
    CURRENT              name of the live generation (replaced atomically)
    .lock                held by the one process that writes
    gen-<id>/            one complete generation: manifest.json, store.sqlite,
                         vectors.npy, ids.npy, faiss.index, bm25/
A build writes a new generation under a temporary name, renames it into place and only then
points CURRENT at it, so an interrupted build leaves the previous generation whole.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from qa.clean import CLEAN_VERSION
from qa.config import Config
from qa.corpus import Article, fingerprint, scan_corpus
from qa.errors import IndexBusy, IndexCorrupt, IndexIncompatible, IndexMissing, IndexWriteError
from qa.faults import checkpoint
from qa.segment import make_passages, sentence_spans
from qa.store import PassageRow, Store

FORMAT_VERSION = 2
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
HNSW_THRESHOLD = 50_000


@dataclass
class SyncPlan:
    """What a sync will do, by document id."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rebuild: bool = False
    reason: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.rebuild)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.removed)} removed, {len(self.unchanged)} unchanged"
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


def expected_settings(cfg: Config, dim: int | None = None) -> dict:
    """The manifest fields an index must match to be used with this configuration."""
    out = {"format": FORMAT_VERSION, "model": cfg.model, "chunk": cfg.chunk.as_dict(), "clean_version": CLEAN_VERSION}
    if dim is not None:
        out["dim"] = dim
    return out


# --- locating generations ------------------------------------------------------------------

def current_generation(index_dir: Path) -> Path | None:
    """The live generation folder, or None when nothing has been built."""
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorrupt(f"cannot read {pointer} ({exc.strerror}): run `qa index --rebuild`") from exc
    if not name.startswith("gen-") or "/" in name:
        raise IndexCorrupt(f"{pointer} is damaged: run `qa index --rebuild`")
    gen = index_dir / name
    if not gen.is_dir():
        raise IndexCorrupt(f"{pointer} names {name}, which is missing: run `qa index --rebuild`")
    return gen


def read_manifest(gen: Path) -> dict:
    """The manifest of a generation; IndexCorrupt when it is missing or not JSON."""
    try:
        data = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorrupt(f"{gen.name} has no manifest: run `qa index --rebuild`") from exc
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{gen.name}/manifest.json is damaged: run `qa index --rebuild`") from exc
    if not isinstance(data, dict):
        raise IndexCorrupt(f"{gen.name}/manifest.json is damaged: run `qa index --rebuild`")
    return data


def check_compatible(manifest: dict, cfg: Config) -> None:
    """Raise IndexIncompatible when the manifest's format, model or settings differ from cfg."""
    fmt = manifest.get("format")
    if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
        raise IndexIncompatible(f"the index has format {fmt}, newer than this qa ({FORMAT_VERSION}): upgrade qa or run `qa index --rebuild`")
    want = expected_settings(cfg)
    for key, value in want.items():
        if manifest.get(key) != value:
            raise IndexIncompatible(
                f"the index was built with {key}={manifest.get(key)!r}, not {value!r}: run `qa index --rebuild`"
            )


# --- writing ------------------------------------------------------------------------------

def _lock(index_dir: Path, wait: float):
    from filelock import FileLock, Timeout

    lock = FileLock(str(index_dir / ".lock"))
    try:
        lock.acquire(timeout=wait)
    except Timeout as exc:
        raise IndexBusy(f"another `qa index` is writing {index_dir}: wait for it to finish, then try again") from exc
    except OSError as exc:
        raise IndexWriteError(
            f"cannot write in the index folder {index_dir} ({exc.strerror or exc}): check its permissions "
            "or pass --index DIR; the previous index is unchanged"
        ) from exc
    return lock


def plan_sync(articles: list[Article], gen: Path | None, cfg: Config, rebuild: bool) -> SyncPlan:
    """Compare the corpus with the live generation."""
    plan = SyncPlan()
    old: dict[str, str] = {}
    if gen is not None and not rebuild:
        try:
            manifest = read_manifest(gen)
            check_compatible(manifest, cfg)
            old = dict(manifest.get("articles", {}))
        except (IndexCorrupt, IndexIncompatible) as exc:
            plan.rebuild, plan.reason = True, str(exc).split(":")[0]
    elif gen is not None:
        plan.rebuild, plan.reason = True, "--rebuild"
    if gen is None:
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


def _refresh_fingerprint(gen: Path, files: dict[str, list[int]]) -> None:
    """Record new file times after a sync that found no content change (atomic rewrite)."""
    manifest = read_manifest(gen)
    if manifest.get("files") == files:
        return
    manifest["files"] = files
    tmp = gen / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, gen / MANIFEST)


def is_stale(cfg: Config, manifest: dict) -> bool:
    """Whether the corpus files differ (by size or time) from those the index was built from."""
    if not cfg.corpus_dir.is_dir():
        return False
    return fingerprint(cfg.corpus_dir) != manifest.get("files")


def needs_sync(cfg: Config) -> bool:
    """Whether the index must be built or synced before use; IndexMissing when it can't be."""
    gen = current_generation(cfg.index_dir) if cfg.index_dir.is_dir() else None
    if gen is None and not cfg.corpus_dir.is_dir():
        raise IndexMissing(f"no index in {cfg.index_dir} and no corpus folder {cfg.corpus_dir}: pass --corpus DIR")
    return cfg.corpus_dir.is_dir() and (gen is None or is_stale(cfg, read_manifest(gen)))


def _fsync_tree(path: Path) -> None:
    for root, _dirs, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                os.fsync(fh.fileno())
        fd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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


def _cleanup_stale(index_dir: Path, keep: Path | None) -> None:
    """Remove temporary and superseded generation folders (only called under the lock)."""
    for child in index_dir.iterdir():
        if child.is_dir() and (child.name.startswith(".tmp-") or child.name.startswith("gen-")):
            if keep is None or child.resolve() != keep.resolve():
                shutil.rmtree(child, ignore_errors=True)
        elif child.is_file() and child.name.startswith(f".{CURRENT}."):  # a pointer a killed build left
            child.unlink(missing_ok=True)


def sync(
    cfg: Config,
    embedder_factory: Callable[[], object],
    rebuild: bool = False,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    lock_wait: float = 0.0,
) -> SyncReport:
    """Bring the index in line with the corpus: embed new and changed articles, drop removed ones."""
    started = time.perf_counter()
    files = fingerprint(cfg.corpus_dir) if cfg.corpus_dir.is_dir() else {}
    scan = scan_corpus(cfg.corpus_dir, cfg.max_file_bytes)
    index_dir = cfg.index_dir
    if dry_run:
        gen = current_generation(index_dir) if index_dir.is_dir() else None
        return SyncReport(plan_sync(scan.articles, gen, cfg, rebuild), scan.warnings)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexWriteError(f"cannot create the index folder {index_dir} ({exc.strerror}): check the path and permissions") from exc
    lock = _lock(index_dir, lock_wait)
    try:
        try:
            gen = current_generation(index_dir)
        except IndexCorrupt:
            gen = None
        plan = plan_sync(scan.articles, gen, cfg, rebuild)
        report = SyncReport(plan, scan.warnings)
        if not plan.changed and gen is not None:
            _refresh_fingerprint(gen, files)
            report.passages_total = int(read_manifest(gen).get("passages", 0))
            report.generation = gen.name
            _cleanup_stale(index_dir, gen)
            return report
        checkpoint("locked")
        embedder = embedder_factory()
        tmp = index_dir / f".tmp-{uuid.uuid4().hex[:12]}"
        try:
            tmp.mkdir()
            _build_generation(tmp, gen if not plan.rebuild else None, scan.articles, plan, cfg, embedder, report, progress, files)
            final = index_dir / f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
            checkpoint("written")
            _fsync_tree(tmp)
            os.rename(tmp, final)
            checkpoint("renamed")
            pointer_tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex[:6]}"
            pointer_tmp.write_text(final.name + "\n", encoding="utf-8")
            with open(pointer_tmp, "rb") as fh:
                os.fsync(fh.fileno())
            checkpoint("pointer")
            os.replace(pointer_tmp, index_dir / CURRENT)
            checkpoint("switched")
            fd = os.open(index_dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise IndexWriteError(
                f"cannot write the index in {index_dir} ({exc.strerror or exc}): free some space or check "
                "permissions, then run `qa index` again; the previous index is unchanged"
            ) from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        report.generation = final.name
        _cleanup_stale(index_dir, final)
        report.seconds = time.perf_counter() - started
        return report
    finally:
        lock.release()


def _build_generation(
    tmp: Path,
    prev: Path | None,
    articles: list[Article],
    plan: SyncPlan,
    cfg: Config,
    embedder,
    report: SyncReport,
    progress: Callable[[int, int], None] | None,
    files: dict[str, list[int]],
) -> None:
    """Write a complete generation into tmp, reusing the previous one's vectors where unchanged."""
    if prev is not None:
        shutil.copyfile(prev / "store.sqlite", tmp / "store.sqlite")
        old_vectors = np.load(prev / "vectors.npy", allow_pickle=False)
        old_ids = np.load(prev / "ids.npy", allow_pickle=False)
    else:
        old_vectors = np.zeros((0, embedder.dim), dtype=np.float32)
        old_ids = np.zeros(0, dtype=np.int64)
    store = Store(tmp / "store.sqlite")
    try:
        dropped: set[int] = set()
        for doc_id in plan.removed + plan.updated:
            dropped.update(store.delete_article(doc_id))
        todo = set(plan.added) | set(plan.updated)
        next_id = max(store.max_passage_id(), int(old_ids.max()) if len(old_ids) else -1) + 1
        new_rows: list[PassageRow] = []
        for art in articles:
            if art.doc_id not in todo:
                continue
            spans = sentence_spans(art.text)
            passages = make_passages(art.text, spans, cfg.chunk)
            rows = store.add_article(art, spans, passages, next_id)
            next_id += len(rows)
            new_rows.extend(rows)
        total = len(new_rows)
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, total)

        if progress:
            progress(0, total)
        spans = [
            [(s.start - r.start, s.end - r.start) for s in store.sentences(r.doc_id)[r.first_sentence:r.last_sentence]]
            for r in new_rows
        ]
        new_vectors, new_sent = embedder.encode_passages(
            [r.text for r in new_rows], spans, batch_size=cfg.batch_size, progress=tick
        )
        checkpoint("embedded")
        new_sent = np.asarray(new_sent, dtype=np.float16).reshape(-1, embedder.dim)
        if prev is not None:
            old_sent = np.load(prev / "sentvecs.npy", allow_pickle=False)
            old_off = np.load(prev / "sent_offsets.npy", allow_pickle=False)
        else:
            old_sent = np.zeros((0, embedder.dim), dtype=np.float16)
            old_off = np.zeros(1, dtype=np.int64)
        keep = ~np.isin(old_ids, np.fromiter(dropped, dtype=np.int64, count=len(dropped)))
        blocks = [old_sent[old_off[r]:old_off[r + 1]] for r in np.flatnonzero(keep)]
        new_off = np.cumsum([0] + [len(s) for s in spans])
        blocks += [new_sent[new_off[k]:new_off[k + 1]] for k in range(len(new_rows))]
        ids = np.concatenate([old_ids[keep], np.array([r.id for r in new_rows], dtype=np.int64)])
        vectors = np.concatenate([old_vectors[keep], np.asarray(new_vectors, dtype=np.float32).reshape(-1, embedder.dim)])
        order = np.argsort(ids, kind="stable")
        ids, vectors = ids[order], vectors[order]
        blocks = [blocks[i] for i in order]
        sent_off = np.cumsum([0] + [len(b) for b in blocks]).astype(np.int64)
        sentvecs = np.concatenate(blocks) if blocks else np.zeros((0, embedder.dim), dtype=np.float16)
        store.commit()
        stored_ids = store.passage_ids()
        if stored_ids != ids.tolist():
            raise IndexCorrupt("passages and vectors disagree while building: run `qa index --rebuild`")
        np.save(tmp / "vectors.npy", vectors, allow_pickle=False)
        np.save(tmp / "ids.npy", ids, allow_pickle=False)
        np.save(tmp / "sentvecs.npy", sentvecs.astype(np.float16), allow_pickle=False)
        np.save(tmp / "sent_offsets.npy", sent_off, allow_pickle=False)
        faiss_kind = _write_faiss(vectors, ids, embedder.dim, tmp / "faiss.index")
        from qa.lexical import Lexical

        Lexical.build([r.text for r in store.iter_passages()]).save(tmp / "bm25")
        counts = store.counts()
        manifest = {
            **expected_settings(cfg, embedder.dim),
            "model_name": getattr(embedder, "name", cfg.model),
            "faiss": faiss_kind,
            "articles": {a.doc_id: a.content_hash for a in articles},
            "passages": counts["passages"],
            "files": files,
            "sentences": counts["sentences"],
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
        report.passages_embedded = total
        report.passages_total = counts["passages"]
    finally:
        store.close()
