"""Fitted low-rank deltas to the embedding model's layers: the retrieval encoder's (bench.fit_encoder) and the reader's.

`encoder.safetensors` holds each layer's two factors, `encoder.json` the model they were fitted on, their rank
and scale, and the validation figures. `qa.embed` adds them to the default model's weights when it loads it,
so passages, sentences and questions (and the question encoder's ONNX export) all use the fitted model; an
index records their digest (`qa.generation.expected_settings`) and one built with other weights is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from qa.config import DEFAULT_MODEL

if TYPE_CHECKING:  # torch is imported only when deltas are applied
    import torch

WEIGHTS = Path(__file__).with_name("encoder.safetensors")
SETTINGS = WEIGHTS.with_suffix(".json")


@dataclass(frozen=True)
class Deltas:
    """Fitted deltas read from disk: where the linear layers named by `targets` gain scale * B @ A."""

    targets: tuple[str, ...]
    scale: float  # alpha / rank
    tensors: dict  # "{layer}.lora_a" (rank x in) and "{layer}.lora_b" (out x rank)
    digest: str  # the weights file's sha256

    @classmethod
    def read(cls, weights: Path, fitted: dict) -> "Deltas":
        """The deltas in a safetensors file, with the settings (`rank`, `alpha`, `targets`) they were fitted with."""
        from safetensors.torch import load_file

        stat = weights.stat()
        return cls(tuple(fitted["targets"]), float(fitted["alpha"]) / int(fitted["rank"]), load_file(str(weights)),
                   file_digest(weights, stat.st_size, stat.st_mtime_ns))

    def add(self, model: "torch.nn.Module", sign: float = 1.0) -> None:
        """Add (sign 1) or take away (sign -1) the deltas to the named linear layers of a transformer, in place."""
        import torch

        modules = dict(model.named_modules())
        with torch.no_grad():
            for name in self.targets:
                delta = self.tensors[f"{name}.lora_b"].float() @ self.tensors[f"{name}.lora_a"].float()
                modules[name].weight += sign * self.scale * delta


@lru_cache(maxsize=8)
def file_digest(path: Path, size: int, mtime_ns: int) -> str:
    """The file's sha256 (cached while its size and time are unchanged)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def canonical(model: str) -> str:
    """The model setting as the deltas name it: the Hub id of the default model is the default model."""
    return DEFAULT_MODEL if model == f"sentence-transformers/{DEFAULT_MODEL}" else model


def settings() -> dict | None:
    """The encoder deltas' settings, None when there are none (or they can't be read)."""
    try:
        data = json.loads(SETTINGS.read_text(encoding="utf-8")) if WEIGHTS.is_file() else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def digest_for(model: str) -> str | None:
    """The sha256 of the encoder deltas qa adds to this model, None when it adds none."""
    fitted = settings()
    if not fitted or fitted.get("model") != canonical(model):
        return None
    try:
        stat = WEIGHTS.stat()
        return file_digest(WEIGHTS, stat.st_size, stat.st_mtime_ns)
    except OSError:
        return None


def encoder_for(model: str) -> Deltas | None:
    """The encoder deltas fitted on this model, read now; None when there are none."""
    fitted = settings()
    if digest_for(model) is None or fitted is None:
        return None
    return Deltas.read(WEIGHTS, fitted)
