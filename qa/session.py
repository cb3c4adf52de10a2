"""The one way in: a ready answer engine over a synced, loaded index (CLI, chat, eval, benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Literal

from qa.config import Config

if TYPE_CHECKING:  # the real imports are heavy (numpy, FAISS, the model): made when a session opens
    from qa.answer import Engine
    from qa.answer.reader import Reader
    from qa.corpus import Article
    from qa.embed import Embedder
    from qa.index import SyncReport
    from qa.retrieve import LoadedIndex, Retriever
    from qa.store import ArticleInfo, PassageRow

Progress = Callable[[int, int], None]
SyncWhen = Literal["needed", "always", "never"]


@dataclass
class Session:
    """An engine over one loaded index, what the sync did to get there, and what the front ends read."""

    cfg: Config
    engine: Engine
    index: LoadedIndex
    report: SyncReport | None = None  # None when no sync ran

    @property
    def warnings(self) -> list[str]:
        """One sentence per corpus file the sync skipped (none when no sync ran)."""
        return list(self.report.warnings) if self.report else []

    @property
    def retriever(self) -> Retriever:
        return self.engine.retriever

    @property
    def manifest(self) -> dict:
        return self.index.manifest

    @property
    def model(self) -> str:
        """The embedding model the index was built with."""
        return str(self.manifest.get("model", self.cfg.model))

    def article(self, doc_id: str) -> Article:
        """A whole article (its text is what every citation's offsets point into)."""
        return self.index.store.article(doc_id)

    def passages(self) -> Iterable[PassageRow]:
        """Every stored passage, in id order."""
        return self.index.store.iter_passages()

    def listing(self) -> list[ArticleInfo]:
        """Title, date and source of every indexed article, in doc_id order."""
        return self.index.store.listing()

    def doc_ids(self) -> list[str]:
        """The ids of every indexed article."""
        return self.index.store.doc_ids()

    def counts(self) -> dict[str, int]:
        """How many articles, sentences and passages the index holds."""
        return self.index.store.counts()

    def stale(self) -> bool:
        """Whether the corpus folder has changed since this index was built."""
        from qa.index import is_stale

        return is_stale(self.cfg, self.manifest)

    def close(self) -> None:
        """Release the index's files (or its connection to the server)."""
        self.index.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_session(
    cfg: Config,
    *,
    sync: SyncWhen = "needed",
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    lock_wait: float = 0.0,
) -> Session:
    """Sync the index when it is missing or stale (or always, or never), load it once, build the engine.

    `embedder=None` means cfg's model: questions are encoded by its ONNX export when the index names one
    (no torch import), else by the torch model, loaded only when something needs it (an embedding sync, the
    engine). An injected embedder (the fake in tests) encodes the questions itself, and short answers come
    from the linear span scorer (no reader).
    """
    from qa.answer import Engine
    from qa.index import needs_sync
    from qa.index import sync as sync_index
    from qa.retrieve import Retriever, open_index

    injected = embedder is not None

    def get_embedder() -> Embedder:
        nonlocal embedder
        if embedder is None:
            from qa.embed import get_embedder as load

            embedder = load(cfg.model)
        return embedder

    report = None
    if sync == "always" or (sync == "needed" and needs_sync(cfg)):
        report = sync_index(cfg, get_embedder, progress=progress, lock_wait=lock_wait)
    index = open_index(cfg)
    try:
        queries, reader = (get_embedder(), None) if injected else _onnx_models(cfg, index, get_embedder)
        engine = Engine(Retriever(index, queries), max_question_chars=cfg.max_question_chars, reader=reader)
    except BaseException:
        index.close()
        raise
    return Session(cfg, engine, index, report)


def _onnx_models(cfg: Config, index: LoadedIndex, load: Callable[[], Embedder]) -> tuple[Embedder, Reader | None]:
    """The question encoder and the reader the index names; when it lacks either, the torch model, exported now (and
    named in the manifest) so the next process needs no torch."""
    from qa.answer.reader import load_reader, wanted
    from qa.index import query_export, record_query_export
    from qa.query_encoder import load_query_encoder

    onnx = load_query_encoder(index.manifest, cfg.model)
    reader = load_reader(index.manifest, cfg.model)
    if onnx is not None and not wanted(index.manifest, cfg.model):
        return onnx, reader
    model = load()
    # a Milvus build names its exports in its manifest from the start; an older one gets them in this cache only
    entry = query_export(model) if cfg.milvus else record_query_export(cfg, index.gen, model)
    return onnx or model, reader or load_reader(entry, cfg.model)
