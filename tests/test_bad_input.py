"""Hostile corpus files: each is indexed correctly or skipped with one warning; the rest indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import Config
from qa.corpus import scan_corpus
from qa.errors import QuestionError
from qa.index import sync
from qa.messages import NO_ANSWER
from qa.session import open_session


def test_a_folder_of_bad_files_still_indexes_the_good_ones(tmp_path: Path, fake):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    cfg = Config(corpus_dir=corpus, index_dir=tmp_path / "index", max_file_bytes=64 * 1024)
    (corpus / "good.txt").write_text("Hull CCG was rated outstanding for a fourth year.")
    (corpus / "nul.txt").write_bytes(b"Some text\x00\x00\x00with NUL bytes\x00" * 50)
    (corpus / "huge.txt").write_bytes(b"All work and no play. " * 4096)  # 88 KB: over this cap of 64 KB
    (corpus / "name with spaces é.txt").write_text("Doncaster CCG was rated outstanding again.")
    words = [f"{a}{b}" for a in ("ccg", "nhs", "rating", "board", "plan") for b in ("alpha", "beta", "gamma", "delta")]
    (corpus / "no punctuation.txt").write_text(" ".join(words[(i * 7) % len(words)] + str(i) for i in range(3000)))
    (corpus / "mojibake.txt").write_text("The CCGâ€™s rating was '˜inadequate' again.")
    (corpus / "loop").symlink_to(corpus)
    result = scan_corpus(corpus, cfg.max_file_bytes)
    ids = sorted(a.doc_id for a in result.articles)
    assert ids == ["good", "mojibake", "name with spaces é", "no punctuation"]
    assert sum(w.startswith("nul.txt") for w in result.warnings) == 1
    assert sum(w.startswith("huge.txt") and "size cap" in w for w in result.warnings) == 1
    assert any("symlink loop" in w for w in result.warnings)
    assert [a.text for a in result.articles if a.doc_id == "mojibake"] == ["The CCG’s rating was ‘inadequate’ again."]
    report = sync(cfg, lambda: fake)
    assert len(report.plan.added) == 4
    with open_session(cfg, sync="never", embedder=fake) as session:
        rows = list(session.passages())
        for row in rows:
            assert session.article(row.doc_id).text[row.start:row.end] == row.text
    assert max(len(p.text) for p in rows if p.doc_id == "no punctuation") < 5000


@pytest.mark.parametrize("bad, problem", [
    ("", "the question is empty"), ("   \n\t", "the question is empty"), ("?!?...,,;", "the question is empty"),
    ("\x1b[31m\x07", "the question is empty"), ("x" * 100_000, "the question is 100000 characters long; the limit is 2000"),
])
def test_hostile_questions_that_say_nothing_get_a_clear_error(cfg, fake, bad, problem):
    with open_session(cfg, embedder=fake) as session:
        with pytest.raises(QuestionError, match=problem):
            session.engine.ask(bad)


@pytest.mark.parametrize("odd", [
    "¿Por qué se calificó a North Derbyshire como inadecuado?", "[bold red]why[/] [link=file:///etc/passwd]x[/link]",
    "why\x00 was\x1b[2J North Derbyshire rated inadequate?", "北德比郡为什么被评为不合格？", "a",
])
def test_odd_questions_get_exact_quotes_or_an_abstention(cfg, fake, odd):
    with open_session(cfg, embedder=fake) as session:
        answer = session.engine.ask(odd)
        if answer.abstained:
            assert answer.answer == NO_ANSWER and answer.citations == []
        else:
            assert answer.citations
            for c in answer.citations:
                assert session.article(c.doc_id).text[c.start:c.end] == c.quote
