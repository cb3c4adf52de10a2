"""Questions through the ONNX export: which export a manifest may use, pooling, falling back to torch;
with the real model, the same vectors as torch and no torch import in `qa search`, `ask`, `eval` or the chat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.generation import current_generation, read_manifest, write_manifest
from qa.index import sync
from qa.query_encoder import META_FILE, MODEL_FILE, TOKENIZER_FILE, OnnxQueryEncoder, export_for, pool
from qa.session import open_session
from qa.testing import HashingEmbedder
from tests.conftest import REPO

HEAVY = ("torch", "transformers", "sentence_transformers")
QUESTIONS = REPO / "questions" / "ccg.jsonl"


def fake_export(folder: Path, model: str = "all-MiniLM-L6-v2", sha: str = "abc", dim: int = 64) -> dict:
    """An export folder whose files exist (the graph is not a valid model) and the manifest entry naming it."""
    folder.mkdir(parents=True)
    (folder / MODEL_FILE).write_bytes(b"not an onnx graph")
    (folder / TOKENIZER_FILE).write_text("{}")
    meta = {"model": model, "sha256": sha, "pooling": "mean", "normalize": True, "max_seq_length": 256, "dim": dim}
    (folder / META_FILE).write_text(json.dumps(meta))
    return {"model": model, "sha256": sha, "path": str(folder)}


def test_a_manifest_names_an_export_only_while_it_matches(tmp_path: Path):
    entry = fake_export(tmp_path / "export")
    manifest = {"dim": 64, "query_encoder": entry}
    assert export_for(manifest, "all-MiniLM-L6-v2") == tmp_path / "export"
    assert export_for(manifest, "another-model") is None
    assert export_for({"dim": 384, "query_encoder": entry}, "all-MiniLM-L6-v2") is None
    assert export_for({"dim": 64, "query_encoder": {**entry, "sha256": "re-exported"}}, "all-MiniLM-L6-v2") is None
    assert export_for({"dim": 64}, "all-MiniLM-L6-v2") is None
    (tmp_path / "export" / TOKENIZER_FILE).unlink()
    assert export_for(manifest, "all-MiniLM-L6-v2") is None


def test_mean_pooling_ignores_padding():
    tokens = np.array([[[1.0, 0.0], [3.0, 2.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert pool(tokens, mask, "mean").tolist() == [[2.0, 1.0]]
    assert pool(tokens, mask, "cls").tolist() == [[1.0, 0.0]]


def test_a_damaged_export_falls_back_to_the_model(cfg, monkeypatch, tmp_path: Path):
    """An index naming an export ONNX Runtime cannot read still answers, with the configured model."""
    import qa.embed

    fake = HashingEmbedder()
    sync(cfg, lambda: fake)
    gen = current_generation(cfg.index_dir)
    write_manifest(gen, {**read_manifest(gen), "query_encoder": fake_export(tmp_path / "export")})
    loaded = []
    monkeypatch.setattr(qa.embed, "get_embedder", lambda model: loaded.append(model) or fake)
    with open_session(cfg, sync="never") as session:
        assert session.retriever.embedder is fake and loaded == [cfg.model]
        assert session.retriever.search("North Derbyshire savings", k=1)


# --- with the real model -------------------------------------------------------------------------

def texts_to_compare(cfg) -> list[str]:
    """Every question of questions/ccg.jsonl, every sentence of the seed articles and every passage."""
    from qa.corpus import scan_corpus
    from qa.segment import sentence_spans

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    sentences = [a.text[s:e] for a in scan_corpus(REPO / "corpus", 5 << 20).articles for s, e in sentence_spans(a.text)]
    with open_session(cfg, sync="never", embedder=HashingEmbedder()) as session:
        passages = [p.text for p in session.passages()]
    return questions + sentences + passages


@pytest.mark.slow
def test_onnx_and_torch_give_the_same_vectors(real_index, real_embedder):
    manifest = read_manifest(current_generation(real_index.index_dir))
    onnx = OnnxQueryEncoder(export_for(manifest, real_index.model))
    texts = texts_to_compare(real_index)
    assert len(texts) >= 300
    torch_vecs = real_embedder.encode_queries(texts)
    one_by_one = np.vstack([onnx.encode_queries([t]) for t in texts])
    batched = onnx.encode_queries(texts)  # padded to the longest: the mask keeps the padding out
    assert float((one_by_one * torch_vecs).sum(axis=1).min()) >= 0.9999
    assert float((batched * torch_vecs).sum(axis=1).min()) >= 0.9999


CHILD = """
import json, sys
from click.testing import CliRunner
from qa.cli import main
args = json.loads(sys.argv[1])
if args[0] == "chat":  # the chat's session factory, then its first question
    from qa.config import Config
    from qa.tui.app import open_chat_session
    session = open_chat_session(Config.from_env(corpus_dir=args[1], index_dir=args[2]), progress=lambda done, total: None)
    out, code = session.engine.ask("Why was North Derbyshire rated inadequate?").answer, 0
else:
    result = CliRunner().invoke(main, args)
    out, code = result.output, result.exit_code
print(json.dumps({"code": code, "out": out, "heavy": sorted(m for m in sys.modules if m.split(".")[0] in %r)}))
""" % (HEAVY,)


@pytest.mark.slow
@pytest.mark.parametrize("command", [
    ["search", "North Derbyshire savings"],
    ["ask", "Why was North Derbyshire rated inadequate?"],
    ["eval", str(QUESTIONS), "--limit", "40"],
    ["chat"],
])
def test_a_built_index_answers_without_importing_torch(real_index, command):
    where = [str(real_index.corpus_dir), str(real_index.index_dir)]
    args = ["chat", *where] if command == ["chat"] else [*command, "--corpus", where[0], "--index", where[1]]
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, result["out"]
    assert "North Derbyshire" in result["out"] or "hit@1" in result["out"]
    assert result["heavy"] == []
