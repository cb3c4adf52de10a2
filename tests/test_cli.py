"""The CLI as a user meets it: add, index, status, and one-line errors (with the remedy) instead of tracebacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.testing import HashingEmbedder
from tests.conftest import REPO

PAGE = """<html><head><title>Leeds CCG rated good</title>
<meta property="article:published_time" content="2019-07-12"></head>
<body><nav>Home | News | Sport</nav><article><h1>Leeds CCG rated good</h1>
<p>Leeds clinical commissioning group has been rated good by NHS England in its annual assessment of
commissioners, the organisation announced on Friday.</p>
<p>The group's chief officer, Tim Ryley, said staff had worked hard to improve cancer waiting times across the city.</p>
</article><footer>Copyright 2019</footer></body></html>"""


def run(args, corpus, index):
    return CliRunner().invoke(main, [*args, "--corpus", str(corpus), "--index", str(index)])


@pytest.fixture
def fake_model(monkeypatch):
    """Every command embeds with the fake embedder instead of loading the real model."""
    import qa.embed

    monkeypatch.setattr(qa.embed, "get_embedder", lambda model: HashingEmbedder())


@pytest.fixture
def no_model(monkeypatch):
    """Loading the model fails the test: for errors that must come before any work."""
    import qa.embed

    def refuse(model):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(qa.embed, "get_embedder", refuse)


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
    line = one_line_error(run(["eval", str(bad)], tmp_path, tmp_path / "index"), code=2)
    assert line == f"error: {bad} line 1: missing required field 'question'"
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "CURRENT").write_text("not a generation\n")
    line = one_line_error(run(["ask", "Who chairs Hull CCG?"], tmp_path, damaged))
    assert "CURRENT is damaged" in line and line.endswith(": run `qa index --rebuild`")
    (damaged / "CURRENT").write_bytes(b"\xff\xfe\x00gen")
    line = one_line_error(run(["status"], tmp_path, damaged))
    assert line == f"error: {damaged / 'CURRENT'} is damaged: run `qa index --rebuild`"


def test_a_bad_question_is_a_usage_error(tmp_path: Path):
    result = run(["ask", "   "], tmp_path, tmp_path / "index")
    assert isinstance(result.exception, SystemExit) and result.exit_code == 2
    assert "the question is empty" in result.stderr and "Traceback" not in result.output


# --- an empty or missing corpus -----------------------------------------------------------------

QUESTION = "Why was North Derbyshire rated inadequate?"


def question_file(tmp_path: Path, text: str = f'{{"id": "1", "question": "{QUESTION}"}}\n') -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("files", [{}, {"blank.txt": b"  \n", "photo.txt": bytes(range(256)) * 8}], ids=["empty", "all skipped"])
def test_a_corpus_without_articles_is_a_one_line_error_for_every_command(tmp_path: Path, fake_model, files):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, data in files.items():
        (corpus / name).write_bytes(data)
    commands = (["index"], ["index", "--dry-run"], ["ask", QUESTION], ["search", "North Derbyshire"], ["eval", str(question_file(tmp_path))])
    for args in commands:
        line = one_line_error(run(args, corpus, tmp_path / "index"))
        assert line.startswith(f"error: no articles in {corpus}") and line.endswith(": add articles with `qa add FILE`"), args
        if files:
            assert "(2 skipped: blank.txt: empty file; ...)" in line
    assert not (tmp_path / "index").exists()
    status = run(["status"], corpus, tmp_path / "index")  # status only looks at names: files it can't read, `qa index` explains
    assert status.exit_code == 0
    if not files:
        assert status.stdout == f"no index in {tmp_path / 'index'}: no articles in {corpus}: add articles with `qa add FILE`\n"


def test_emptying_the_corpus_leaves_the_index_as_it_was_and_status_still_works(cfg, fake_model):
    assert run(["index"], cfg.corpus_dir, cfg.index_dir).exit_code == 0
    live = (cfg.index_dir / "CURRENT").read_text()
    shutil.rmtree(cfg.corpus_dir)
    cfg.corpus_dir.mkdir()
    for args in (["index"], ["index", "--rebuild"], ["ask", QUESTION]):
        assert one_line_error(run(args, cfg.corpus_dir, cfg.index_dir)).startswith(f"error: no articles in {cfg.corpus_dir}")
    assert (cfg.index_dir / "CURRENT").read_text() == live and (cfg.index_dir / live.strip()).is_dir()
    status = run(["status", "--json"], cfg.corpus_dir, cfg.index_dir)
    assert status.exit_code == 0 and json.loads(status.stdout)["articles"] == 5
    stale = run(["status"], cfg.corpus_dir, cfg.index_dir).stdout.splitlines()[-1]
    assert stale == f"stale       yes: no articles in {cfg.corpus_dir}: add articles with `qa add FILE`"


def test_a_missing_corpus_folder_is_an_error_for_every_command(cfg, tmp_path: Path, fake_model):
    assert run(["index"], cfg.corpus_dir, cfg.index_dir).exit_code == 0  # an index that could answer
    typo = tmp_path / "copus"
    commands = (["index"], ["ask", QUESTION], ["search", "North Derbyshire"], ["status"], ["status", "--json"],
                ["eval", str(question_file(tmp_path))])
    for args in commands:
        line = one_line_error(run(args, typo, cfg.index_dir))
        assert line == f"error: corpus folder {typo} does not exist: create it or pass --corpus DIR", args


# --- question files and other files qa reads ----------------------------------------------------

@pytest.mark.parametrize("content, problem", [
    (b"", "no questions in {q}"),
    (b"\n  \n", "no questions in {q}"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "{q} line 1: not UTF-8 text (byte 0x89 at column 1)"),
    ('{"id": "1", "question": "Who?"}\n{"id": "2", "question": "Qui a été?"}\n'.encode("latin-1"), "{q} line 2: not UTF-8 text (byte 0xe9"),
    (b'{"id": "1", "question": "Who?", "doc_ids": "003"}\n', "{q} line 1: 'doc_ids' must be a list of strings"),
    (b'{"id": "1", "question": "Who?", "answers": "Hull"}\n', "{q} line 1: 'answers' must be a list of strings"),
], ids=["empty", "blank lines", "binary", "latin-1", "doc_ids string", "answers string"])
def test_a_bad_question_file_is_refused_before_the_model_or_the_index(corpus_dir: Path, tmp_path: Path, no_model, content, problem):
    questions = tmp_path / "q.jsonl"
    questions.write_bytes(content)
    line = one_line_error(run(["eval", str(questions)], corpus_dir, tmp_path / "index"), code=2)
    assert line.startswith("error: " + problem.format(q=questions)), line
    assert not (tmp_path / "index").exists()


def test_a_history_file_that_is_not_utf8_is_a_usage_error_naming_it(corpus_dir: Path, tmp_path: Path, no_model):
    history = tmp_path / "turns.json"
    history.write_bytes('["Who chairs Hull CCG?", "Qui a été nommé?"]'.encode("latin-1"))
    result = run(["ask", "And since when?", "--history", str(history)], corpus_dir, tmp_path / "index")
    assert isinstance(result.exception, SystemExit) and result.exit_code == 2
    assert f"{history} is not UTF-8 text (byte 0xe9" in result.stderr and "Traceback" not in result.output


# --- piped output --------------------------------------------------------------------------------

def test_piped_output_is_plain_text_without_trailing_spaces(corpus_dir: Path, tmp_path: Path, fake_model):
    lines = (REPO / "questions" / "ccg.jsonl").read_text(encoding="utf-8").splitlines()[:4]
    questions = question_file(tmp_path, "\n".join(lines) + "\n")
    index = tmp_path / "index"
    outputs = {}
    for args in (["ask", QUESTION], ["ask", "What did the Martians say about Leeds?"], ["search", "North Derbyshire inadequate"],
                 ["eval", str(questions), "--compare", "--show-failures"], ["status"], ["index"]):
        result = run(args, corpus_dir, index)
        assert result.exit_code == 0, (args, result.output)
        outputs[args[0] + " " + args[1] if len(args) > 1 else args[0]] = result.stdout
    for name, out in outputs.items():
        assert out.strip() and "\x1b[" not in out, name
        assert [line for line in out.splitlines() if line != line.rstrip()] == [], name
    assert "qa eval: 4 questions, retriever hybrid" in outputs[f"eval {questions}"].splitlines()[0]
    assert "Sources" in outputs[f"ask {QUESTION}"]
