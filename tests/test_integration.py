"""With the real model: incremental sync, ranking, and a build killed midway by SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.index import current_generation, sync
from qa.retrieve import Retriever, open_index
from tests.conftest import NORTH_DERBYSHIRE, REPO, CountingEmbedder

pytestmark = pytest.mark.slow
SQUAD = REPO.parent / "shared" / "bench" / "squad" / "corpus"


def test_incremental_sync_with_real_model(cfg, real_embedder):
    emb = CountingEmbedder(real_embedder)
    first = sync(cfg, lambda: emb)
    assert emb.encoded == first.passages_total
    emb.encoded = 0
    sync(cfg, lambda: emb)
    assert emb.encoded == 0
    path = cfg.corpus_dir / "001_80afd918b9d33cad.txt"
    path.write_text(path.read_text() + "\nThe CCG appointed a new finance director in September.\n")
    report = sync(cfg, lambda: emb)
    changed = [p for p in open_index(cfg).store.iter_passages() if p.doc_id == "001_80afd918b9d33cad"]
    assert report.plan.updated == ["001_80afd918b9d33cad"] and emb.encoded == len(changed)
    (cfg.corpus_dir / "001_80afd918b9d33cad.txt").unlink()
    sync(cfg, lambda: emb)
    idx = open_index(cfg)
    hits = Retriever(idx, real_embedder).search("new finance director appointed in September", k=idx.size)
    assert all(h.doc_id != "001_80afd918b9d33cad" for h in hits)


def test_cli_search_ranks_north_derbyshire_first(cfg, real_embedder):
    runner = CliRunner()
    args = ["--corpus", str(cfg.corpus_dir), "--index", str(cfg.index_dir)]
    result = runner.invoke(main, ["search", "North Derbyshire savings", "--json", *args])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    top = payload["results"][0]
    assert top["doc_id"] == NORTH_DERBYSHIRE
    article = open_index(cfg).store.article(NORTH_DERBYSHIRE)
    assert article.text[top["start"]:top["end"]] == top["text"]
    status = runner.invoke(main, ["status", "--json", *args])
    info = json.loads(status.stdout)
    assert info["articles"] == 5 and info["passages"] > 5
    assert info["stale"] is False and info["model"] == "all-MiniLM-L6-v2"


def _squad_corpus(dest: Path, n: int) -> None:
    for src in sorted(SQUAD.glob("*.txt"))[:n]:
        shutil.copy(src, dest / src.name)


@pytest.mark.skipif(not SQUAD.is_dir(), reason="needs ../shared/bench/squad")
def test_build_killed_midway_leaves_previous_index_answering(cfg, real_embedder, tmp_path):
    sync(cfg, lambda: real_embedder)
    gen = current_generation(cfg.index_dir)
    _squad_corpus(cfg.corpus_dir, 6)  # enough text that embedding takes a few seconds
    env = {**os.environ, "QA_CORPUS": str(cfg.corpus_dir), "QA_INDEX": str(cfg.index_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "qa", "index"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(".tmp-") for p in cfg.index_dir.iterdir()):
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert current_generation(cfg.index_dir) == gen
    idx = open_index(cfg)
    hits = Retriever(idx, real_embedder).search("North Derbyshire savings", k=1)
    assert hits[0].doc_id == NORTH_DERBYSHIRE
    report = sync(cfg, lambda: real_embedder)
    assert len(report.plan.added) == 6
    assert not [p for p in cfg.index_dir.iterdir() if p.name.startswith(".tmp-")]
