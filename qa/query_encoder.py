"""Questions encoded without torch: the model's ONNX export run by ONNX Runtime, tokenised by `tokenizers`.

An export (made by qa.onnx_export when an index is built, or on first use) is a folder in the cache:
    model.onnx       the transformer: token ids in, token embeddings out
    tokenizer.json   the model's tokenizer
    encoder.json     the model id, the export's sha256, pooling, normalisation, max length, dim, prompt
A generation's manifest names it (`query_encoder`: model, sha256, path); an export whose encoder.json
no longer matches is ignored, and the session falls back to the torch model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.config import QUERY_THREADS

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "encoder.json"
POOLINGS = ("mean", "cls")


@dataclass(frozen=True)
class ExportMeta:
    """What encoder.json records about an export."""

    model: str
    sha256: str
    pooling: str
    normalize: bool
    max_seq_length: int
    dim: int
    prompt: str = ""

    @classmethod
    def read(cls, folder: Path) -> "ExportMeta | None":
        """The export's record, or None when the folder holds no complete export."""
        try:
            data = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            meta = cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (OSError, ValueError, TypeError):
            return None
        complete = (folder / MODEL_FILE).is_file() and (folder / TOKENIZER_FILE).is_file()
        return meta if complete and meta.pooling in POOLINGS else None

    def entry(self, folder: Path) -> dict:
        """The manifest's `query_encoder` field naming this export."""
        return {"model": self.model, "sha256": self.sha256, "path": str(folder)}


def export_for(manifest: dict, model: str) -> Path | None:
    """The export folder a manifest names, when it still holds that export of this model."""
    entry = manifest.get("query_encoder")
    if not isinstance(entry, dict) or entry.get("model") != model or not entry.get("path"):
        return None
    folder = Path(entry["path"])
    meta = ExportMeta.read(folder)
    if meta is None or meta.model != model or meta.sha256 != entry.get("sha256") or meta.dim != manifest.get("dim"):
        return None
    return folder


class OnnxQueryEncoder:
    """Encodes questions with an exported model: tokenise, run the graph, pool over the mask, normalise."""

    def __init__(self, folder: Path, threads: int = QUERY_THREADS) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = ExportMeta.read(folder)
        if meta is None:
            raise FileNotFoundError(f"no ONNX export in {folder}")
        self.meta, self.name, self.dim = meta, meta.model, meta.dim
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(meta.max_seq_length)
        self.tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 vector per question."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encs = self.tokenizer.encode_batch([self.meta.prompt + t for t in texts])
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        tokens = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
        vecs = pool(tokens, mask, self.meta.pooling)
        if self.meta.normalize:
            vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return vecs.astype(np.float32)

    def encode_passages(self, texts, spans, batch_size=8, progress=None):  # pragma: no cover - never called
        """Indexing runs on the torch model (faster for batches here): this encoder is for questions only."""
        raise NotImplementedError("the ONNX encoder encodes questions only")


def pool(tokens: np.ndarray, mask: np.ndarray, how: str) -> np.ndarray:
    """Sentence vectors from token embeddings: the mean over the attention mask, or the first token."""
    if how == "cls":
        return tokens[:, 0]
    weights = mask[..., None].astype(tokens.dtype)
    return (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def load_query_encoder(manifest: dict, model: str) -> OnnxQueryEncoder | None:
    """The ONNX encoder a generation's manifest names, or None (no export, no ONNX Runtime, a damaged file)."""
    folder = export_for(manifest, model)
    if folder is None:
        return None
    try:
        return OnnxQueryEncoder(folder)
    except Exception:  # ImportError, or ONNX Runtime's own errors for an unreadable graph: torch answers instead
        return None
