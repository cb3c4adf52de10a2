"""`qa eval` end to end with the real model: floors, baselines, JSON keys, BEIR folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.evaluate import METRICS
from tests.conftest import REPO

pytestmark = pytest.mark.slow
QUESTIONS = REPO / "questions" / "ccg.jsonl"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("eval") / "index"


def run(*args: str, index_dir: Path):
    return CliRunner().invoke(main, ["eval", *args, "--corpus", str(REPO / "corpus"), "--index", str(index_dir)])


def test_project_set_meets_its_floors(index_dir, real_embedder):
    """The regression gate CI runs: floors set just under what qa reaches (questions/ccg.floors)."""
    floors = [f"--fail-under={line.strip()}" for line in (REPO / "questions" / "ccg.floors").read_text().splitlines() if line.strip()]
    result = run(str(QUESTIONS), *floors, index_dir=index_dir)
    assert result.exit_code == 0, result.output


def test_missed_floor_exits_1_and_json_has_exact_keys(index_dir, tmp_path, real_embedder):
    result = run(str(QUESTIONS), "--limit", "8", "--json", "--fail-under", "hit@1=1.01", index_dir=index_dir)
    assert result.exit_code == 1 and "below the floor: hit@1" in result.stderr
    payload = json.loads(result.stdout)
    assert payload["n"] == 8 and set(payload["metrics"]) == set(METRICS)
    assert {"short_em", "short_f1"} <= set(payload["metrics"]) and 0 <= payload["metrics"]["short_f1"] <= 1
    assert {"short", "short_em", "short_f1"} <= set(payload["questions"][0])
    assert {"id", "abstained", "rank", "first_ok"} <= set(payload["questions"][0])


def test_baseline_shows_deltas(index_dir, tmp_path, real_embedder):
    saved = tmp_path / "base.json"
    assert run(str(QUESTIONS), "--limit", "10", "--out", str(saved), index_dir=index_dir).exit_code == 0
    base = json.loads(saved.read_text())
    base["metrics"]["hit@1"] = 0.0
    saved.write_text(json.dumps(base))
    result = run(str(QUESTIONS), "--limit", "10", "--baseline", str(saved), index_dir=index_dir)
    assert result.exit_code == 0 and "delta" in result.output and "+" in result.output


def test_beir_folder(tmp_path, monkeypatch, real_embedder):
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    docs = [
        {"_id": "d1", "title": "Hull", "text": "Hull CCG was rated outstanding for a fourth consecutive year."},
        {"_id": "d2", "title": "Derbyshire", "text": "North Derbyshire CCG must save 28 million pounds."},
        {"_id": "d3", "title": "Croydon", "text": "Croydon CCG was placed in special measures."},
    ]
    (beir / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs))
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "Which CCG was outstanding four years running?"}\n'
                                        '{"_id": "q2", "text": "How much must North Derbyshire save?"}\n')
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    monkeypatch.setenv("QA_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(main, ["eval", str(beir), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n"] == 2 and payload["metrics"]["hit@1"] == 1.0
