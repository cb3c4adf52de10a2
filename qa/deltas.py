"""The retrieval encoder's fitted deltas: low-rank changes to the embedding model's layers (bench.fit_encoder).

`encoder.safetensors` holds each layer's two factors, `encoder.json` the model they were fitted on, their rank
and scale, and the validation figures. `qa.embed` adds them to the default model's weights when it loads it,
so passages, sentences and questions (and the question encoder's ONNX export) all use the fitted model; an
index records their digest (`qa.generation.expected_settings`) and one built with other weights is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported only when the deltas are applied
    import torch

WEIGHTS = Path(__file__).with_name("encoder.safetensors")
SETTINGS = WEIGHTS.with_suffix(".json")


@lru_cache(maxsize=8)
def file_digest(path: Path, size: int, mtime_ns: int) -> str:
    """The file's sha256 (cached while its size and time are unchanged)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def settings() -> dict | None:
    """The fitted deltas' settings, None when there are none (or they can't be read)."""
    try:
        data = json.loads(SETTINGS.read_text(encoding="utf-8")) if WEIGHTS.is_file() else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def digest_for(model: str) -> str | None:
    """The sha256 of the deltas qa adds to this model, None when it adds none."""
    fitted = settings()
    if not fitted or fitted.get("model") != model:
        return None
    stat = WEIGHTS.stat()
    return file_digest(WEIGHTS, stat.st_size, stat.st_mtime_ns)


def add(model: "torch.nn.Module", weights: Path, fitted: dict, sign: float = 1.0) -> None:
    """Add (sign 1) or take away (sign -1) fitted low-rank deltas to the named linear layers of a transformer."""
    import torch
    from safetensors.torch import load_file

    tensors = load_file(str(weights))
    modules = dict(model.named_modules())
    scale = sign * float(fitted["alpha"]) / int(fitted["rank"])
    with torch.no_grad():
        for name in fitted["targets"]:
            modules[name].weight += scale * (tensors[f"{name}.lora_b"].float() @ tensors[f"{name}.lora_a"].float())
