"""Shared fixtures: a temporary copy of the corpus, configs pointing at temp folders, embedders."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import Config
from qa.testing import HashingEmbedder

REPO = Path(__file__).resolve().parent.parent
SEED_CORPUS = REPO / "corpus"
NORTH_DERBYSHIRE = "003_584b4c232aff98aa"


class CountingEmbedder:
    """Wraps an embedder and counts the passages it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.encoded = 0

    def encode_queries(self, texts) -> np.ndarray:
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts, spans, batch_size=32, progress=None):
        self.encoded += len(texts)
        return self.inner.encode_passages(texts, spans, batch_size=batch_size, progress=progress)


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A writable copy of the seed corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, dest)
    return dest


@pytest.fixture
def cfg(tmp_path: Path, corpus_dir: Path) -> Config:
    return Config(corpus_dir=corpus_dir, index_dir=tmp_path / "index")


@pytest.fixture
def fake() -> CountingEmbedder:
    return CountingEmbedder(HashingEmbedder())


@pytest.fixture(scope="session")
def real_embedder():
    """The real default model, loaded once for the whole test session."""
    from qa.embed import get_embedder

    return get_embedder("all-MiniLM-L6-v2")
