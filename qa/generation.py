"""Index generations on disk: their files, manifest, the live-generation pointer, loading and publishing.

Layout of the index folder:
    CURRENT              name of the live generation (replaced atomically)
    .lock                held by the one process that writes
    gen-<id>/            one complete generation (its files are named in `Layout`)
A writer fills a workspace (.tmp-<id>/); `publish` renames it into place as gen-<id>/ and only then
points CURRENT at it, so an interrupted build leaves the previous generation whole.
Building a generation's contents is qa.index's job.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from qa.clean import CLEAN_VERSION
from qa.config import Config
from qa.errors import IndexBusy, IndexCorrupt, IndexIncompatible, IndexMissing, IndexWriteError
from qa.faults import checkpoint
from qa.lexical import Lexical
from qa.store import Store

FORMAT_VERSION = 3  # 3: the manifest names the fitted encoder deltas the vectors were embedded with
# how the BM25 index reads words (qa.lexical.tokenize); an index of an older reading gets its BM25 rebuilt, vectors kept.
# 1: an acronym's plural is the acronym ("CCGs" -> "ccg")
TOKENS_VERSION = 1
CURRENT = "CURRENT"
LOCK = ".lock"
GEN_PREFIX = "gen-"
WORKSPACE_PREFIX = ".tmp-"
POINTER_PREFIX = f".{CURRENT}."  # a pointer being written, before it replaces CURRENT


@dataclass(frozen=True)
class Layout:
    """The files of one generation folder, named once."""

    root: Path
    manifest: Path
    store: Path
    vectors: Path
    ids: Path
    sentvecs: Path
    sent_offsets: Path
    faiss: Path
    bm25: Path

    @classmethod
    def of(cls, root: Path) -> "Layout":
        """The layout of the generation (or workspace) folder root."""
        return cls(
            root=root,
            manifest=root / "manifest.json",
            store=root / "store.sqlite",
            vectors=root / "vectors.npy",
            ids=root / "ids.npy",
            sentvecs=root / "sentvecs.npy",
            sent_offsets=root / "sent_offsets.npy",
            faiss=root / "faiss.index",
            bm25=root / "bm25",
        )


@dataclass
class Vectors:
    """A generation's arrays: passage ids (ascending), passage vectors, sentence vectors and their offsets.

    The sentences of the passage in row r are sentvecs[sent_offsets[r]:sent_offsets[r + 1]].
    """

    ids: np.ndarray
    vectors: np.ndarray
    sentvecs: np.ndarray
    sent_offsets: np.ndarray

    @classmethod
    def empty(cls, dim: int) -> "Vectors":
        """No passages."""
        return cls(
            np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32),
            np.zeros((0, dim), dtype=np.float16), np.zeros(1, dtype=np.int64),
        )

    @classmethod
    def load(cls, files: Layout) -> "Vectors":
        """The arrays of a generation."""
        return cls(*(np.load(path, allow_pickle=False) for path in (files.ids, files.vectors, files.sentvecs, files.sent_offsets)))

    def save(self, files: Layout) -> None:
        """Write the arrays into a generation's folder (plain .npy, no pickle)."""
        np.save(files.vectors, self.vectors, allow_pickle=False)
        np.save(files.ids, self.ids, allow_pickle=False)
        np.save(files.sentvecs, self.sentvecs.astype(np.float16), allow_pickle=False)
        np.save(files.sent_offsets, self.sent_offsets, allow_pickle=False)

    def sentences(self, row: int) -> np.ndarray:
        """The sentence vectors of the passage in this row."""
        return self.sentvecs[self.sent_offsets[row]:self.sent_offsets[row + 1]]


# --- manifest and compatibility -----------------------------------------------------------

def expected_settings(cfg: Config, dim: int | None = None) -> dict:
    """The manifest fields an index must match to be used with this configuration."""
    from qa.deltas import digest_for

    out = {"format": FORMAT_VERSION, "model": cfg.model, "encoder_deltas": digest_for(cfg.model),
           "chunk": cfg.chunk.as_dict(), "clean_version": CLEAN_VERSION}
    if dim is not None:
        out["dim"] = dim
    return out


def read_manifest(gen: Path) -> dict:
    """The manifest of a generation; IndexCorrupt when it is missing or not JSON."""
    path = Layout.of(gen).manifest
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorrupt(f"{gen.name} has no manifest") from exc
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{gen.name}/{path.name} is damaged") from exc
    if not isinstance(data, dict):
        raise IndexCorrupt(f"{gen.name}/{path.name} is damaged")
    return data


def write_manifest(gen: Path, manifest: dict) -> None:
    """Write a generation's manifest atomically (a temporary file renamed over it)."""
    path = Layout.of(gen).manifest
    tmp = gen / f".{path.name}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def check_compatible(manifest: dict, cfg: Config) -> None:
    """Raise IndexIncompatible when the manifest's format, model or settings differ from cfg."""
    fmt = manifest.get("format")
    if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
        raise IndexIncompatible(f"the index has format {fmt}, newer than this qa ({FORMAT_VERSION})")
    tokens = manifest.get("tokens", 0)
    if isinstance(tokens, int) and tokens > TOKENS_VERSION:
        raise IndexIncompatible(f"the index reads words as a newer qa does (tokens {tokens}, this qa {TOKENS_VERSION})")
    for key, value in expected_settings(cfg).items():
        if key == "encoder_deltas" and manifest.get(key) != value:
            raise IndexIncompatible("the index was embedded by another version of qa (other fitted encoder deltas)")
        if manifest.get(key) != value:
            raise IndexIncompatible(f"the index was built with {key}={manifest.get(key)!r}, not {value!r}")


# --- the live generation --------------------------------------------------------------------

def current_generation(index_dir: Path) -> Path | None:
    """The live generation folder, or None when nothing has been built."""
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorrupt(f"cannot read {pointer} ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise IndexCorrupt(f"{pointer} is damaged") from exc
    if not name.startswith(GEN_PREFIX) or "/" in name:
        raise IndexCorrupt(f"{pointer} is damaged")
    gen = index_dir / name
    if not gen.is_dir():
        raise IndexCorrupt(f"{pointer} names {name}, which is missing")
    return gen


# --- writing: the lock, workspaces, publishing, cleanup ---------------------------------------

@contextmanager
def writer_lock(index_dir: Path, wait: float) -> Iterator[None]:
    """Hold the index folder's write lock; IndexBusy when another process holds it past `wait` seconds."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(index_dir / LOCK))
    try:
        lock.acquire(timeout=wait)
    except Timeout as exc:
        raise IndexBusy(f"another process is writing the index in {index_dir}") from exc
    except OSError as exc:
        raise IndexWriteError(
            f"cannot write in the index folder {index_dir} ({exc.strerror or exc}); the previous index is unchanged"
        ) from exc
    try:
        yield
    finally:
        lock.release()


def new_workspace(index_dir: Path) -> Path:
    """A fresh name for a generation being written (create it with mkdir)."""
    return index_dir / f"{WORKSPACE_PREFIX}{uuid.uuid4().hex[:12]}"


def discard(workspace: Path) -> None:
    """Remove a workspace a failed build left."""
    shutil.rmtree(workspace, ignore_errors=True)


def publish(workspace: Path, index_dir: Path) -> Path:
    """Make a fully written workspace the live generation: flush it, rename it into place, switch CURRENT."""
    final = index_dir / f"{GEN_PREFIX}{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    _fsync_tree(workspace)
    os.rename(workspace, final)
    checkpoint("renamed")
    pointer = index_dir / f"{POINTER_PREFIX}{uuid.uuid4().hex[:6]}"
    pointer.write_text(final.name + "\n", encoding="utf-8")
    with open(pointer, "rb") as fh:
        os.fsync(fh.fileno())
    checkpoint("pointer")
    os.replace(pointer, index_dir / CURRENT)
    checkpoint("switched")
    _fsync_dir(index_dir)
    return final


def cleanup_stale(index_dir: Path, keep: Path | None) -> None:
    """Remove workspaces, superseded generations and pointers a killed build left (only under the lock)."""
    for child in index_dir.iterdir():
        if child.is_dir() and child.name.startswith((WORKSPACE_PREFIX, GEN_PREFIX)):
            if keep is None or child.resolve() != keep.resolve():
                shutil.rmtree(child, ignore_errors=True)
        elif child.is_file() and child.name.startswith(POINTER_PREFIX):
            child.unlink(missing_ok=True)


def _fsync_dir(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for root, _dirs, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(root)


# --- reading ----------------------------------------------------------------------------------

class LoadedIndex:
    """One generation opened for reading: store, vectors (FAISS) and BM25."""

    def __init__(self, gen: Path, cfg: Config) -> None:
        self.gen = gen
        self.manifest = read_manifest(gen)
        check_compatible(self.manifest, cfg)
        passages = self._open(Layout.of(gen))
        self._check_consistent(gen, passages)
        self.row_of = {int(pid): i for i, pid in enumerate(self.ids)}
        if self.manifest.get("faiss") == "hnsw":
            import faiss

            faiss.downcast_index(self.faiss.index).hnsw.efSearch = 128

    def _open(self, files: Layout) -> int:
        """Open the store and read the vectors and BM25; the number of stored passages."""
        import faiss

        try:
            self.store = Store(files.store, readonly=True)
            passages = self.store.counts()["passages"]
            self.faiss = faiss.read_index(str(files.faiss))
            self.ids = np.load(files.ids, allow_pickle=False)
            self.sentvecs = np.load(files.sentvecs, allow_pickle=False)
            self.sent_offsets = np.load(files.sent_offsets, allow_pickle=False)
            self.lexical = Lexical.load(files.bm25)
        except Exception as exc:  # OSError, faiss's RuntimeError, numpy's ValueError, sqlite3.DatabaseError...
            raise IndexCorrupt(f"the index in {files.root} is damaged ({type(exc).__name__})") from exc
        return passages

    def _check_consistent(self, gen: Path, passages: int) -> None:
        """IndexCorrupt unless the manifest, store, vectors and BM25 hold the same passages."""
        sizes = {int(self.manifest.get("passages", -1)), passages, int(self.faiss.ntotal), len(self.ids), self.lexical.num_docs}
        if len(sizes) != 1 or self.faiss.d != int(self.manifest.get("dim", -1)):
            raise IndexCorrupt(f"the index in {gen} is inconsistent (passages, vectors and BM25 disagree)")
        if len(self.sent_offsets) != len(self.ids) + 1 or int(self.sent_offsets[-1]) != len(self.sentvecs):
            raise IndexCorrupt(f"the index in {gen} is inconsistent (sentence vectors)")
        if passages and self.store.passage_ids() != self.ids.tolist():
            raise IndexCorrupt(f"the index in {gen} is inconsistent (passage ids differ)")

    @property
    def size(self) -> int:
        return len(self.ids)

    def close(self) -> None:
        self.store.close()


def open_index(cfg: Config) -> LoadedIndex:
    """The live index for cfg; IndexMissing when none is built."""
    gen = current_generation(cfg.index_dir) if cfg.index_dir.is_dir() else None
    if gen is None:
        raise IndexMissing(f"no index in {cfg.index_dir}")
    try:
        return LoadedIndex(gen, cfg)
    except IndexCorrupt:
        again = current_generation(cfg.index_dir)
        if again is None or again == gen:
            raise
        return LoadedIndex(again, cfg)  # a writer replaced the generation while we opened it: once more
