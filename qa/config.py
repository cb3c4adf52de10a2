"""Settings: one dataclass, defaults overridable by QA_* environment variables and CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# threads for encoding one question (torch or ONNX Runtime): a second one gains little idle and waits under load
# (docs/benchmarks.md, "Under load" and "Cold start")
QUERY_THREADS = 1
RETRIEVERS = ("hybrid", "bm25", "dense")  # how passages are ranked: both scores fused, or one alone


def cache_root() -> Path:
    """Where qa keeps what it builds outside an index folder (QA_CACHE, default ~/.cache/qa)."""
    return Path(os.environ.get("QA_CACHE", Path.home() / ".cache" / "qa"))


@dataclass(frozen=True)
class ChunkSettings:
    """How articles are cut into passages (word-piece budget and overlap in sentences)."""

    max_tokens: int = 160
    overlap_sentences: int = 1

    def as_dict(self) -> dict:
        return {"max_tokens": self.max_tokens, "overlap_sentences": self.overlap_sentences}


@dataclass(frozen=True)
class Config:
    """Where the corpus and index live, which model embeds, and limits."""

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    model: str = DEFAULT_MODEL
    chunk: ChunkSettings = field(default_factory=ChunkSettings)
    max_file_bytes: int = 5 * 1024 * 1024
    max_question_chars: int = 2000
    batch_size: int = 8  # as fast as 32 on a 2-core CPU, and ~200 MB less at peak
    backend: str = "local"  # "local" (the index folder) or a Milvus URI, http://host:port
    milvus_token: str = ""  # sent to the Milvus server when it wants one (user:password or an API key)
    milvus_prefix: str = "qa"  # the index's collections on that server are named <prefix>_...

    @property
    def milvus(self) -> bool:
        """Whether the index lives on a Milvus server rather than in index_dir."""
        return self.backend != "local"

    @property
    def where(self) -> str:
        """Where the index lives, as messages name it: the folder, or the server's URI."""
        return self.backend if self.milvus else str(self.index_dir)

    @classmethod
    def from_env(cls, **overrides: object) -> "Config":
        """Defaults, then QA_* environment variables, then explicit overrides (None is ignored)."""
        env = os.environ
        cfg = cls(
            corpus_dir=Path(env.get("QA_CORPUS", "corpus")),
            index_dir=Path(env.get("QA_INDEX", "index")),
            model=env.get("QA_MODEL", DEFAULT_MODEL),
            max_file_bytes=int(env.get("QA_MAX_FILE_BYTES", 5 * 1024 * 1024)),
            backend=env.get("QA_BACKEND", "local") or "local",
            milvus_token=env.get("QA_MILVUS_TOKEN", ""),
            milvus_prefix=env.get("QA_MILVUS_PREFIX", "qa"),
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        for key in ("corpus_dir", "index_dir"):
            if key in given:
                given[key] = Path(given[key])  # type: ignore[arg-type]
        return replace(cfg, **given)  # type: ignore[arg-type]
