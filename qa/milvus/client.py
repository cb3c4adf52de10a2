"""The Milvus server an index lives on: connecting, collection names and schemas, blobs, the alias.

Each generation g of an index with prefix p is five collections, `p_g_meta` (the manifest and the BM25
vocabulary, as chunked JSON), `p_g_articles`, `p_g_passages` (text, dense vector, Milvus's BM25 over
the passage's tokens), `p_g_sentences` (pooled sentence vectors). The alias `p_live` names the live
generation's meta collection; switching it is the one step that publishes a build.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterator

from qa.config import Config
from qa.errors import BackendUnavailable, ConfigError, Fix, IndexCorrupt

LIVE = "live"
WRITER = "writer"
KINDS = ("meta", "articles", "passages", "sentences")
CHUNK_CHARS = 16_000  # a VARCHAR holds 65,535 bytes: 16,000 characters of UTF-8 always fit
PAD_DIM = 2  # Milvus wants a vector field in every collection: the meta and article rows carry a constant one
BM25_K1, BM25_B = 1.2, 0.75  # bm25s's defaults, as the local index uses
HNSW_THRESHOLD = 50_000  # as the local index: exact search below, HNSW (M 32, efConstruction 80, ef 128) above
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
_BATCH = 500
_REFUSED = re.compile(r"\bauth|unauthenticated|unauthori[sz]ed|credential|password|invalid token", re.I)  # Milvus's words
_REFUSED_CODES = frozenset({"UNAUTHENTICATED"})  # gRPC's status for a token the server refuses
GRPC_OPTIONS = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": False}


def new_generation() -> str:
    """A fresh generation id (sortable by time)."""
    return f"g{time.strftime('%Y%m%d%H%M%S')}_{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Names:
    """The collection names of one generation."""

    prefix: str
    gen: str

    def __getattr__(self, kind: str) -> str:
        if kind in KINDS:
            return f"{self.prefix}_{self.gen}_{kind}"
        raise AttributeError(kind)

    def all(self) -> list[str]:
        return [f"{self.prefix}_{self.gen}_{kind}" for kind in KINDS]


class Milvus:
    """A connection to the server named by cfg.backend; every failure to reach it is BackendUnavailable."""

    def __init__(self, cfg: Config) -> None:
        if not _NAME.match(cfg.milvus_prefix):
            raise ConfigError(f"QA_MILVUS_PREFIX {cfg.milvus_prefix!r} must be letters, digits and _ (at most 40)")
        self.uri, self.prefix = cfg.backend, cfg.milvus_prefix
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # its own tracebacks would bury the one-line error
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:  # pragma: no cover - a dependency
            raise BackendUnavailable("the Milvus backend needs pymilvus (pip install pymilvus)") from exc
        with self.errors("connect to"):
            # no keepalive pings on an idle connection: a server answers too many with GOAWAY ("too_many_pings"),
            # and pymilvus shares that connection with the next client of the same URI, whose first call then fails
            self.client = MilvusClient(uri=self.uri, token=cfg.milvus_token, timeout=10, grpc_options=GRPC_OPTIONS)
            self.client.list_aliases()  # a refused token or a dead server fails here, not in the middle of a search

    def errors(self, doing: str):
        """A context turning the client's errors into one line naming the server."""
        return _Translate(self.uri, doing)

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a dead connection
            pass

    # --- the alias ------------------------------------------------------------------------
    @property
    def live_alias(self) -> str:
        return f"{self.prefix}_{LIVE}"

    def live(self) -> str | None:
        """The live generation's id, or None when nothing has been published."""
        with self.errors("read the index on"):
            if self.live_alias not in self.client.list_aliases().get("aliases", []):
                return None
            target = self.client.describe_alias(self.live_alias)["collection_name"]
        head = f"{self.prefix}_"
        if not (target.startswith(head) and target.endswith("_meta")):
            raise IndexCorrupt(f"the alias {self.live_alias} on {self.uri} names {target}, not an index generation")
        return target[len(head):-len("_meta")]

    def switch(self, gen: str) -> None:
        """Point the live alias at a generation: the one step that publishes it."""
        with self.errors("publish the index on"):
            if self.live_alias in self.client.list_aliases().get("aliases", []):
                self.client.alter_alias(Names(self.prefix, gen).meta, self.live_alias)
            else:
                self.client.create_alias(Names(self.prefix, gen).meta, self.live_alias)

    def generations(self) -> set[str]:
        """Every generation with at least one collection on the server (whole or left by a killed build)."""
        with self.errors("list the collections on"):
            names = self.client.list_collections()
        pattern = re.compile(rf"^{re.escape(self.prefix)}_(g\d{{14}}_[0-9a-f]{{6}})_({'|'.join(KINDS)})$")
        return {m.group(1) for m in map(pattern.match, names) if m}

    def drop(self, gen: str) -> None:
        """Remove a generation's collections."""
        with self.errors("drop collections on"):
            existing = set(self.client.list_collections())
            for name in Names(self.prefix, gen).all():
                if name in existing:
                    self.client.drop_collection(name)

    # --- rows -----------------------------------------------------------------------------
    def rows(self, collection: str, expr: str, fields: list[str], batch: int = 2000) -> Iterator[dict]:
        """Every row matching expr (all rows for ""), in batches."""
        with self.errors("read the index on"):
            it = self.client.query_iterator(collection, batch_size=batch, filter=expr, output_fields=fields)
            try:
                while page := it.next():
                    yield from page
            finally:
                it.close()

    def query(self, collection: str, expr: str, fields: list[str]) -> list[dict]:
        """The rows matching expr (a bounded set: by key)."""
        with self.errors("read the index on"):
            return list(self.client.query(collection, filter=expr, output_fields=fields))

    def insert(self, collection: str, rows: list[dict]) -> None:
        with self.errors("write the index on"):
            for start in range(0, len(rows), _BATCH):
                self.client.insert(collection, rows[start:start + _BATCH])

    def count(self, collection: str, expr: str = "") -> int:
        """How many rows match expr (all rows for "")."""
        with self.errors("read the index on"):
            return int(self.client.query(collection, filter=expr, output_fields=["count(*)"])[0]["count(*)"])


class _Translate:
    def __init__(self, uri: str, doing: str) -> None:
        self.uri, self.doing = uri, doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or isinstance(exc, (BackendUnavailable, IndexCorrupt, ConfigError)):
            return False
        from pymilvus.exceptions import MilvusException

        from grpc import RpcError

        if isinstance(exc, (MilvusException, RpcError, ConnectionError, TimeoutError)) or type(exc).__module__.startswith("grpc"):
            detail = _first_line(getattr(exc, "message", "") or str(exc)) or type(exc).__name__
            refused = _refusal(exc)
            if refused is not None:
                raise BackendUnavailable(f"the Milvus server at {self.uri} refused the token ({refused})", fix=Fix.TOKEN) from exc
            raise BackendUnavailable(f"cannot {self.doing} the Milvus server at {self.uri} ({detail})") from exc
        return False


def _first_line(text: str) -> str:
    """An error's first line, cut to fit a one-line message ("" for none)."""
    return text.strip().splitlines()[0][:160] if text.strip() else ""


def _refusal(exc: BaseException) -> str | None:
    """Why the server refused the token, when the error (or one it wraps) is a refusal; else None."""
    seen: BaseException | None = exc
    for _ in range(4):  # pymilvus wraps the gRPC error once or twice
        if seen is None:
            return None
        code = getattr(seen, "code", None)
        name = getattr(code() if callable(code) else code, "name", "")
        details = getattr(seen, "details", None)
        text = _first_line((details() if callable(details) else "") or getattr(seen, "message", "") or str(seen))
        if name in _REFUSED_CODES or _REFUSED.search(text):
            return text or name
        seen = seen.__cause__ or seen.__context__
    return None


# --- schemas ------------------------------------------------------------------------------

def create_generation(db: Milvus, names: Names, dim: int, passages: int) -> None:
    """Create a generation's four empty collections with their indexes."""
    from pymilvus import DataType, Function, FunctionType

    c = db.client
    with db.errors("create collections on"):
        meta = c.create_schema(auto_id=False)
        meta.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
        meta.add_field("kind", DataType.VARCHAR, max_length=16)
        meta.add_field("part", DataType.INT64)
        meta.add_field("blob", DataType.VARCHAR, max_length=65535)
        meta.add_field("pad", DataType.FLOAT_VECTOR, dim=PAD_DIM)
        _create(db, names.meta, meta, {"pad": ("FLAT", "L2", {})})

        arts = c.create_schema(auto_id=False)
        arts.add_field("key", DataType.VARCHAR, is_primary=True, max_length=2048)
        arts.add_field("doc_id", DataType.VARCHAR, max_length=1024)
        arts.add_field("part", DataType.INT64)
        arts.add_field("sentences", DataType.INT64)  # how many the article has (on part 0)
        for name in ("path", "title", "date", "source", "url", "hash"):
            arts.add_field(name, DataType.VARCHAR, max_length=65535)
        arts.add_field("blob", DataType.VARCHAR, max_length=65535)
        arts.add_field("pad", DataType.FLOAT_VECTOR, dim=PAD_DIM)
        _create(db, names.articles, arts, {"pad": ("FLAT", "L2", {})})

        pas = c.create_schema(auto_id=False)
        pas.add_field("id", DataType.INT64, is_primary=True)
        pas.add_field("doc_id", DataType.VARCHAR, max_length=1024)
        for name in ("start", "end", "first_sentence", "last_sentence"):
            pas.add_field(name, DataType.INT64)
        pas.add_field("text", DataType.VARCHAR, max_length=65535)
        pas.add_field("terms", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                      analyzer_params={"tokenizer": "standard"})
        pas.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        pas.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        pas.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                  input_field_names=["terms"], output_field_names=["sparse"]))
        dense = ("HNSW", "IP", {"M": 32, "efConstruction": 80}) if passages >= HNSW_THRESHOLD else ("FLAT", "IP", {})
        _create(db, names.passages, pas, {
            "vector": dense,
            "sparse": ("SPARSE_INVERTED_INDEX", "BM25", {"bm25_k1": BM25_K1, "bm25_b": BM25_B}),
        })

        sents = c.create_schema(auto_id=False)
        sents.add_field("key", DataType.INT64, is_primary=True)  # passage id * SENTENCE_SLOTS + j
        sents.add_field("passage_id", DataType.INT64)
        sents.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        _create(db, names.sentences, sents, {"vector": ("FLAT", "IP", {})})


SENTENCE_SLOTS = 4096  # more sentences than a passage of at most a few hundred word pieces can hold


def _create(db: Milvus, name: str, schema: Any, indexes: dict[str, tuple[str, str, dict]]) -> None:
    params = db.client.prepare_index_params()
    for field, (kind, metric, extra) in indexes.items():
        # nested under "params" (sent as one JSON value): milvus-lite reads build parameters only from there
        params.add_index(field_name=field, index_type=kind, metric_type=metric, params={"params": extra} if extra else {})
    db.client.create_collection(name, schema=schema, index_params=params)


# --- chunked JSON blobs -------------------------------------------------------------------

def blob_parts(value: Any) -> list[str]:
    """A JSON value cut into VARCHAR-sized parts."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return [text[i:i + CHUNK_CHARS] for i in range(0, max(len(text), 1), CHUNK_CHARS)]


def join_blob(rows: list[dict], where: str) -> Any:
    """The JSON value whose parts are these rows (any order); IndexCorrupt when parts are missing."""
    rows = sorted(rows, key=lambda r: r["part"])
    if not rows or [r["part"] for r in rows] != list(range(len(rows))):
        raise IndexCorrupt(f"{where} is incomplete")
    try:
        return json.loads("".join(r["blob"] for r in rows))
    except ValueError as exc:
        raise IndexCorrupt(f"{where} is damaged") from exc


def pad() -> list[float]:
    return [0.0] * PAD_DIM


def quote(values: list[str]) -> str:
    """A list of strings as a Milvus filter literal."""
    return "[" + ",".join(json.dumps(v) for v in values) + "]"
