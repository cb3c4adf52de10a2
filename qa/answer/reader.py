"""The reader: the embedding model fine-tuned to point at the words of a quote that answer the question.

`python -m bench.fit_reader` fits low-rank deltas to the model's layers and a start/end head on squad-train
(question, evidence sentence) pairs, and writes them to `reader.safetensors` with their settings in
`reader.json`. `qa.onnx_export.ensure_reader_export` merges them into the model once, into an ONNX graph in
the cache (named by the index's manifest, like the question encoder); `Reader` runs that graph with ONNX
Runtime, so answering needs no torch. Without an export (another model, the fake embedder in tests) the short
answer falls back to the linear span scorer (`qa.answer.short`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.config import QUERY_THREADS
from qa.deltas import file_digest

WEIGHTS = Path(__file__).with_name("reader.safetensors")  # the fitted deltas and head (bench.fit_reader)
SETTINGS = Path(__file__).with_name("reader.json")  # the base model, the deltas' rank and scale, figures
MODEL_FILE = "reader.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "reader.json"
QUANTIZE = "int8-dynamic-per-channel"  # how the export's weights are stored (qa.onnx_export); another is made again


@dataclass(frozen=True)
class ReaderMeta:
    """What an export's reader.json records."""

    model: str  # the embedding model the reader was fitted on
    sha256: str  # the export's graph
    weights: str  # the sha256 of the fitted weights it merged
    max_length: int  # tokens of question and quote together (the quote is cut beyond)
    max_answer: int  # the longest span, in tokens
    quantize: str  # how its weights are stored (QUANTIZE)

    @classmethod
    def read(cls, folder: Path) -> "ReaderMeta | None":
        """The export's record, or None when the folder holds no complete export."""
        try:
            data = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            meta = cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except (OSError, ValueError, TypeError, KeyError):
            return None
        complete = (folder / MODEL_FILE).is_file() and (folder / TOKENIZER_FILE).is_file()
        return meta if complete else None

    def entry(self, folder: Path) -> dict:
        """The manifest's `reader` field naming this export."""
        return {"model": self.model, "sha256": self.sha256, "weights": self.weights, "quantize": self.quantize, "path": str(folder)}


def unexported(model: str) -> dict:
    """The manifest's `reader` field when the fitted weights could not be exported (not tried again until they change)."""
    return {"model": model, "weights": weights_digest(), "quantize": QUANTIZE, "path": None}


@dataclass(frozen=True)
class ReaderSpan:
    """The reader's answer in a text: `text[start:end]`, and its probability (start's times end's)."""

    start: int
    end: int
    p: float


def weights_digest() -> str:
    """The sha256 of the fitted weights (an export of other weights is stale)."""
    stat = WEIGHTS.stat()
    return file_digest(WEIGHTS, stat.st_size, stat.st_mtime_ns)


def settings() -> dict | None:
    """The fitted reader's settings (None when no reader was fitted); read once while the file is unchanged."""
    try:
        stat = SETTINGS.stat()
        return _settings(stat.st_size, stat.st_mtime_ns) if WEIGHTS.is_file() else None
    except OSError:
        return None


@lru_cache(maxsize=2)
def _settings(size: int, mtime_ns: int) -> dict | None:
    try:
        return json.loads(SETTINGS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def fitted_for(model: str) -> bool:
    """Whether a reader was fitted on this embedding model."""
    from qa.deltas import canonical

    fitted = settings()
    return bool(fitted) and fitted.get("model") == canonical(model)


class Reader:
    """Finds the answer span of a text: tokenise question and text as a pair, run the graph, pick the best span.
    Each pair runs alone: the graph's int8 activations are scaled per run, so a batch would change a text's span
    with the texts beside it."""

    def __init__(self, folder: Path, threads: int = QUERY_THREADS) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = ReaderMeta.read(folder)
        if meta is None:
            raise FileNotFoundError(f"no reader export in {folder}")
        self.meta = meta
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(meta.max_length, strategy="longest_first")  # a long question is cut too
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])

    def spans(self, question: str, text: str, k: int = 1) -> list[ReaderSpan]:
        """The k most probable spans of the text that answer the question, most probable first ([] when it has no words)."""
        try:
            enc = self.tokenizer.encode(question, text)
        except Exception:  # the tokenizer's own error for a pair it cannot fit: no short answer, not a failed question
            return []
        context = [j for j, s in enumerate(enc.sequence_ids) if s == 1]
        if not context:
            return []
        ids = np.array([enc.ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.array([enc.type_ids], dtype=np.int64)}
        starts, ends = self.session.run(None, feed)
        pairs = best_pairs(log_softmax(starts[0]), log_softmax(ends[0]), context, self.meta.max_answer, k)
        return [ReaderSpan(enc.offsets[i][0], enc.offsets[j][1], p) for i, j, p in pairs]


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log of softmax(z), computed stably."""
    z = z.astype(np.float64) - z.max()
    return z - np.log(np.exp(z).sum())


def best_pair(start: np.ndarray, end: np.ndarray, context: list[int], max_answer: int) -> tuple[int, int, float]:
    """The start and end token (inside the context, in order, a span of at most max_answer tokens) with the highest
    joint log-probability, and that probability (0 when no span is allowed)."""
    joint, idx = _joint(start, end, context, max_answer)
    a, b = np.unravel_index(int(np.argmax(joint)), joint.shape)
    return int(idx[a]), int(idx[b]), float(np.exp(joint[a, b]))


def best_pairs(start: np.ndarray, end: np.ndarray, context: list[int], max_answer: int, k: int) -> list[tuple[int, int, float]]:
    """The k allowed (start, end, probability) token pairs of highest joint log-probability, best first; of equals, the
    earlier start, then the earlier end (as `best_pair` chooses)."""
    if k <= 1:
        found = best_pair(start, end, context, max_answer)
        return [found] if found[2] > 0 and k == 1 else []
    joint, idx = _joint(start, end, context, max_answer)
    flat = joint.ravel()
    valid = np.flatnonzero(np.isfinite(flat))
    top = valid[np.argsort(-flat[valid], kind="stable")[:k]]
    return [(int(idx[n // joint.shape[1]]), int(idx[n % joint.shape[1]]), float(np.exp(flat[n]))) for n in top]


def _joint(start: np.ndarray, end: np.ndarray, context: list[int], max_answer: int) -> tuple[np.ndarray, np.ndarray]:
    """The joint log-probability of every (start, end) pair of context tokens, -inf where the span is not allowed."""
    idx = np.asarray(context)
    joint = start[idx][:, None] + end[idx][None, :]
    gap = idx[None, :] - idx[:, None]
    joint[(gap < 0) | (gap >= max_answer)] = -np.inf
    return joint, idx


def export_for(manifest: dict, model: str) -> Path | None:
    """The reader export a generation's manifest names, when it still holds that export for this model, made from
    the fitted weights as they are now."""
    return _valid(manifest.get("reader"), model)


def find_export(manifest: dict, model: str) -> Path | None:
    """The export the manifest names, else the one this machine last made of the same weights (an index whose
    manifest can't be rewritten: a Milvus one built before, a read-only folder)."""
    return export_for(manifest, model) or _valid(_read_pointer(model), model)


def wanted(manifest: dict, model: str) -> bool:
    """Whether a reader is fitted for this model but no export of it is at hand, nor known to fail for these weights."""
    if not fitted_for(model) or find_export(manifest, model) is not None:
        return False
    entry = manifest.get("reader")
    return not (_current(entry) and entry.get("path") is None)


def remember(entry: dict) -> None:
    """Note the export just made for this machine's later sessions (best effort: the manifest names it too)."""
    try:
        path = _pointer(entry["model"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entry), encoding="utf-8")
    except OSError:
        pass


def _pointer(model: str) -> Path:
    from qa.config import cache_root

    return cache_root() / "onnx" / f"reader-{hashlib.sha256(model.encode()).hexdigest()[:12]}.json"


def _read_pointer(model: str) -> dict | None:
    try:
        return json.loads(_pointer(model).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _current(entry: object) -> bool:
    """Whether a manifest entry was made from the fitted weights as they are now, stored as this version stores them."""
    return isinstance(entry, dict) and entry.get("weights") == weights_digest() and entry.get("quantize") == QUANTIZE


def _valid(entry: object, model: str) -> Path | None:
    """The folder an entry names, when it holds a complete export of the current weights for this model."""
    if not isinstance(entry, dict) or entry.get("model") != model or not entry.get("path") or not fitted_for(model):
        return None
    folder = Path(entry["path"])
    meta = ReaderMeta.read(folder)
    if meta is None or meta.model != model or meta.sha256 != entry.get("sha256") or not _current(meta.entry(folder)):
        return None
    return folder


def load_reader(manifest: dict, model: str) -> Reader | None:
    """The reader the manifest (or this machine's cache) names, or None (none exported, no ONNX Runtime, a damaged file)."""
    folder = find_export(manifest, model)
    if folder is None:
        return None
    try:
        return Reader(folder)
    except Exception:  # ONNX Runtime's own errors for an unreadable graph: the linear span scorer answers instead
        return None
