"""The CLI as a user meets it: add, index, status, and one-line errors (with the remedy) instead of tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main

PAGE = """<html><head><title>Leeds CCG rated good</title>
<meta property="article:published_time" content="2019-07-12"></head>
<body><nav>Home | News | Sport</nav><article><h1>Leeds CCG rated good</h1>
<p>Leeds clinical commissioning group has been rated good by NHS England in its annual assessment of
commissioners, the organisation announced on Friday.</p>
<p>The group's chief officer, Tim Ryley, said staff had worked hard to improve cancer waiting times across the city.</p>
</article><footer>Copyright 2019</footer></body></html>"""


def run(args, corpus, index):
    return CliRunner().invoke(main, [*args, "--corpus", str(corpus), "--index", str(index)])


@pytest.mark.slow
def test_add_text_and_html_then_answerable_and_duplicates_refused(corpus_dir: Path, tmp_path: Path, real_embedder):
    index = tmp_path / "index"
    page = tmp_path / "leeds.html"
    page.write_text(PAGE)
    note = tmp_path / "note.txt"
    note.write_text("Hull CCG opened a new walk-in centre in Bransholme in 2021.\n")
    result = run(["add", str(page), str(note)], corpus_dir, index)
    assert result.exit_code == 0, result.output
    md = (corpus_dir / "leeds.md").read_text()
    assert md.startswith("---\ntitle: Leeds CCG rated good") and "Tim Ryley" in md and "Home | News" not in md
    assert (corpus_dir / "note.txt").read_bytes() == note.read_bytes()
    search = run(["search", "Tim Ryley cancer waiting times", "--json", "-k", "1"], corpus_dir, index)
    assert json.loads(search.stdout)["results"][0]["doc_id"] == "leeds"
    again = tmp_path / "copy.txt"
    again.write_text(note.read_text())
    refused = run(["add", str(again)], corpus_dir, index)
    assert refused.exit_code == 1 and "already in the corpus as note.txt" in refused.output
    assert not (corpus_dir / "copy.txt").exists()


@pytest.mark.slow
def test_index_prints_what_it_did_and_status_reports_staleness(corpus_dir: Path, tmp_path: Path, real_embedder):
    index = tmp_path / "index"
    first = run(["index"], corpus_dir, index)
    assert first.exit_code == 0 and "5 added" in first.output
    assert "up to date" in run(["index"], corpus_dir, index).output
    (corpus_dir / "extra.txt").write_text("An extra article about Croydon CCG finances.")
    assert json.loads(run(["status", "--json"], corpus_dir, index).stdout)["stale"] is True
    plan = run(["index", "--dry-run"], corpus_dir, index)
    assert "1 added" in plan.output and "extra" in plan.output
    assert "1 added, 0 updated, 0 removed, 5 unchanged" in run(["index"], corpus_dir, index).output


def one_line_error(result, code: int = 1) -> str:
    """The single `error: ...` line qa printed for a user's mistake, after checking it exited on purpose."""
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash caught by CliRunner
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_user_mistakes_get_one_line_errors_with_the_remedy(tmp_path: Path):
    missing = tmp_path / "nope"
    line = one_line_error(run(["index"], missing, tmp_path / "index"))
    assert line == f"error: corpus folder {missing} does not exist: create it or pass --corpus DIR"
    line = one_line_error(run(["add", str(tmp_path / "ghost.txt")], tmp_path, tmp_path / "index"))
    assert line == f"error: {tmp_path / 'ghost.txt'}: no such file"
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": 1}\n')
    line = one_line_error(run(["eval", str(bad)], tmp_path, tmp_path / "index"))
    assert line == "error: line 1: missing required field 'question'"
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "CURRENT").write_text("not a generation\n")
    line = one_line_error(run(["ask", "Who chairs Hull CCG?"], missing, damaged))
    assert "CURRENT is damaged" in line and line.endswith(": run `qa index --rebuild`")


def test_a_bad_question_is_a_usage_error(tmp_path: Path):
    result = run(["ask", "   "], tmp_path, tmp_path / "index")
    assert isinstance(result.exception, SystemExit) and result.exit_code == 2
    assert "the question is empty" in result.stderr and "Traceback" not in result.output
