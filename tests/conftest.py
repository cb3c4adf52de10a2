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


@pytest.fixture(scope="session")
def real_index(tmp_path_factory, real_embedder) -> Config:
    """A copy of the seed corpus indexed with the real model, which exports it for questions and the reader (one
    build for the session: a test that changes its manifest puts it back)."""
    import shutil

    from qa.index import sync

    root = tmp_path_factory.mktemp("real-index")
    shutil.copytree(REPO / "corpus", root / "corpus")
    cfg = Config(corpus_dir=root / "corpus", index_dir=root / "index")
    sync(cfg, lambda: real_embedder)
    return cfg


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory):
    """A milvus-lite server on a free loopback port for the whole session (stopped at the end); its URI."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tmp_path_factory.mktemp("milvus")
    log = open(data / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data / "data"), "--host", "127.0.0.1",
         "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"milvus-lite did not start: {(data / 'server.log').read_text()[-500:]}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def milvus_config(cfg: Config, uri: str) -> Config:
    """cfg on the Milvus server at uri, in collections of its own."""
    import uuid
    from dataclasses import replace

    return replace(cfg, backend=uri, milvus_prefix=f"t{uuid.uuid4().hex[:10]}")


@pytest.fixture(params=["local", "milvus"])
def any_cfg(request, cfg: Config) -> Config:
    """cfg on each backend in turn: the index folder, then a Milvus server."""
    if request.param == "local":
        return cfg
    return milvus_config(cfg, request.getfixturevalue("milvus_uri"))


def live_generation(cfg: Config) -> str | None:
    """The id of the live generation on cfg's backend (the folder's name, or the alias's target)."""
    if cfg.backend == "local":
        from qa.index import current_generation

        gen = current_generation(cfg.index_dir)
        return gen.name if gen else None
    from qa.milvus.client import Milvus

    db = Milvus(cfg)
    try:
        return db.live()
    finally:
        db.close()
