"""Test doubles: a deterministic fake embedder, so tests and quick checks run without the real model."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from qa.embed import Progress


class HashingEmbedder:
    """A deterministic bag-of-words embedder: similar words, similar vectors (no model, no network)."""

    def __init__(self, dim: int = 64, name: str = "fake-hashing") -> None:
        self.dim = dim
        self.name = name

    def _vec(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for tok in re.findall(r"\w+", text.lower()):
            h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
            vec[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = np.linalg.norm(vec)
        return vec / norm if norm else vec

    def _stack(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """One vector per question."""
        return self._stack(texts)

    def encode_passages(
        self, texts: list[str], spans: list[list[tuple[int, int]]], batch_size: int = 8, progress: Progress | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Passage vectors, and one vector per sentence span."""
        if progress:
            progress(len(texts))
        flat = [t[a:b] for t, ss in zip(texts, spans) for a, b in ss]
        return self._stack(texts), self._stack(flat)
