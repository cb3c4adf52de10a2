"""Export the sentence-transformers model's transformer to ONNX once, into the cache (needs torch).

The export is keyed by the model id, the files it was loaded from and the fitted encoder deltas added to it
(qa.deltas), so a changed model gets a new one; qa.query_encoder runs it without torch. Only Transformer ->
Pooling (mean or CLS) -> Normalize pipelines are exported; anything else keeps encoding questions with torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

from qa.answer import reader as fitted
from qa.answer.reader import ReaderMeta
from qa.query_encoder import META_FILE, MODEL_FILE, POOLINGS, TOKENIZER_FILE, ExportMeta

if TYPE_CHECKING:  # torch and transformers are imported only when exporting
    import torch
    from transformers import PreTrainedModel

    from qa.deltas import Deltas
    from qa.embed import SentenceTransformerEmbedder

OPSET = 17
M = TypeVar("M")  # an export's record (ExportMeta, ReaderMeta)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def ensure_export(embedder: object, cache: Path) -> tuple[Path, ExportMeta] | None:
    """The export of the embedder's model in cache/onnx/, made now when missing; None when it can't be exported."""
    from qa.embed import SentenceTransformerEmbedder

    if not isinstance(embedder, SentenceTransformerEmbedder):
        return None
    spec = _spec(embedder)
    if spec is None:
        return None
    folder = cache / "onnx" / f"{_slug(embedder.name)}-{_key(embedder, spec)}"
    meta = ExportMeta.read(folder)
    if meta is not None:
        return folder, meta
    try:
        return folder, _export(embedder, spec, folder)
    except Exception:  # a model the exporter can't trace, a full disk: questions keep the torch model
        return None


def _spec(embedder) -> dict | None:
    """Pooling, normalisation, length and prompt as the model's modules say; None for other pipelines."""
    st = embedder.model
    kinds = [type(m).__name__ for m in st]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    pooling = st[1].get_config_dict().get("pooling_mode")
    if pooling not in POOLINGS or not hasattr(st[0], "auto_model"):
        return None
    prompt = (getattr(st, "prompts", None) or {}).get("query", "") or ""
    return {"model": embedder.name, "pooling": pooling, "normalize": "Normalize" in kinds,
            "max_seq_length": int(st.max_seq_length), "dim": int(embedder.dim), "prompt": prompt}


def _key(embedder, spec: dict) -> str:
    """A digest of the export's settings, the model files' names, sizes and times, and the deltas added to them."""
    source = Path(str(embedder.model[0].auto_model.config._name_or_path))
    files = sorted((str(p.relative_to(source)), p.stat().st_size, p.stat().st_mtime_ns)
                   for p in source.rglob("*") if p.is_file()) if source.is_dir() else [str(source)]
    blob = json.dumps([spec, files, OPSET, embedder.deltas], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name or name)[:40]


def _export(embedder, spec: dict, folder: Path) -> ExportMeta:
    """Write the question encoder's export (graph, tokenizer, encoder.json) into place."""

    def write(tmp: Path) -> ExportMeta:
        _write_graph(embedder.model[0].auto_model, tmp / MODEL_FILE)
        embedder.model.tokenizer.backend_tokenizer.save(str(tmp / TOKENIZER_FILE))
        meta = ExportMeta(sha256=_sha256(tmp / MODEL_FILE), **spec)
        (tmp / META_FILE).write_text(json.dumps(meta.__dict__, indent=1), encoding="utf-8")
        return meta

    return _publish(folder, write, ExportMeta.read)


def _publish(folder: Path, write: Callable[[Path], M], read: Callable[[Path], M | None]) -> M:
    """Write an export into a fresh folder beside `folder`, then rename it into place; when another process
    published the same export meanwhile, theirs is kept (and read back)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        meta = write(tmp)
        try:
            os.rename(tmp, folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            theirs = read(folder)
            if theirs is None:
                raise
            return theirs
        return meta
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_graph(model, path: Path) -> None:
    """torch.onnx.export of the transformer: token ids in, token embeddings out."""
    import torch

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    _trace(TokenEmbeddings(model), model, path, ["token_embeddings"])


def _trace(module, model, path: Path, outputs: list[str]) -> None:
    """torch.onnx.export of a module over the transformer `model`, batch and length dynamic (eager attention while
    tracing: a plainer graph that ran fastest here)."""
    import warnings

    import torch

    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    ids = torch.ones(2, 8, dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, *outputs)}
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), (ids, ids, torch.zeros_like(ids)), str(path), dynamo=False,
                              input_names=list(INPUTS), output_names=outputs, dynamic_axes=axes, opset_version=OPSET)
    finally:
        model.set_attn_implementation(before)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_reader_export(embedder: object, cache: Path) -> tuple[Path, ReaderMeta] | None:
    """The reader fitted on the embedder's model, merged and exported into cache/onnx/ now when missing; None when
    no reader was fitted for this model or it can't be exported."""
    from qa.embed import SentenceTransformerEmbedder

    if not isinstance(embedder, SentenceTransformerEmbedder) or not fitted.fitted_for(embedder.name):
        return None
    spec = _spec(embedder)
    if spec is None:
        return None
    weights = fitted.weights_digest()
    folder = cache / "onnx" / f"reader-{_slug(embedder.name)}-{_key(embedder, {**spec, 'reader': weights, 'quantize': fitted.QUANTIZE})}"
    meta = ReaderMeta.read(folder)
    if meta is None or meta.weights != weights or meta.quantize != fitted.QUANTIZE:
        try:
            if folder.exists():  # a damaged export under this name: moved aside, not deleted under a reader's feet
                os.replace(folder, folder.parent / f".old-{uuid.uuid4().hex[:12]}")
            meta = _export_reader(embedder, fitted.settings(), weights, folder)
        except Exception:  # a model the exporter can't trace, a full disk: short answers keep the linear scorer
            return None
        prune_readers(folder)
    fitted.remember(meta.entry(folder))
    return folder, meta


def prune_readers(current: Path) -> list[Path]:
    """Delete the reader exports beside `current` that were made of other fitted weights (or stored otherwise): no
    index can use them again, as a reader is only run from the weights qa ships. Returns what was deleted."""
    meta = ReaderMeta.read(current)
    if meta is None:
        return []
    gone = []
    for other in current.parent.glob("reader-*"):
        old = ReaderMeta.read(other)
        if other != current and old is not None and (old.weights != meta.weights or old.quantize != meta.quantize):
            shutil.rmtree(other, ignore_errors=True)
            gone.append(other)
    return gone


def _export_reader(embedder: SentenceTransformerEmbedder, settings: dict, weights: str, folder: Path) -> ReaderMeta:
    """Merge the fitted deltas into a copy of the model, quantize it, and write the export into place."""

    def write(tmp: Path) -> ReaderMeta:
        _write_reader_graph(embedder.model[0].auto_model, settings, tmp / "float32.onnx", embedder.encoder_deltas)
        _quantize(tmp / "float32.onnx", tmp / fitted.MODEL_FILE)
        embedder.model.tokenizer.backend_tokenizer.save(str(tmp / fitted.TOKENIZER_FILE))
        meta = ReaderMeta(model=embedder.name, sha256=_sha256(tmp / fitted.MODEL_FILE), weights=weights,
                          max_length=int(settings["max_length"]), max_answer=int(settings["max_answer"]), quantize=fitted.QUANTIZE)
        (tmp / fitted.META_FILE).write_text(json.dumps(meta.__dict__, indent=1), encoding="utf-8")
        return meta

    return _publish(folder, write, ReaderMeta.read)


def merged_reader(model: PreTrainedModel, settings: dict, applied: Deltas | None = None) -> tuple[PreTrainedModel, torch.nn.Linear]:
    """A copy of the transformer with the reader's fitted low-rank deltas added to its weights, and the start/end head.
    The reader was fitted on the model as packaged: the retrieval encoder's deltas the model carries (`applied`, those
    qa.embed added) are taken away first."""
    import copy

    import torch

    from qa.deltas import Deltas

    merged = copy.deepcopy(model).eval()
    if applied is not None:
        applied.add(merged, sign=-1.0)
    reader = Deltas.read(fitted.WEIGHTS, settings)
    reader.add(merged)
    head = torch.nn.Linear(model.config.hidden_size, 2)
    with torch.no_grad():
        head.weight.copy_(reader.tensors["head.weight"].float())
        head.bias.copy_(reader.tensors["head.bias"].float())
    return merged, head.eval()


def _quantize(source: Path, target: Path) -> None:
    """The graph with its weights as int8 per output channel (ONNX Runtime's dynamic quantization): 3x faster
    here, held-out F1 0.7163 -> 0.7155 with the right sentence given (per tensor: 0.7081; docs/benchmarks.md)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process the graph would land in the user's terminal (or the chat)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(before)
    source.unlink()


def _write_reader_graph(model: PreTrainedModel, settings: dict, path: Path, applied: Deltas | None) -> None:
    """torch.onnx.export of the merged reader: token ids in, start and end logits out."""
    import torch

    merged, head = merged_reader(model, settings, applied)

    class SpanLogits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner, self.head = merged, head

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            logits = self.head(h)
            return logits[..., 0], logits[..., 1]

    _trace(SpanLogits(), merged, path, ["start", "end"])
