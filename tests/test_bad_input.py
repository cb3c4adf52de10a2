"""Hostile corpus files: each is indexed correctly or skipped with one warning; the rest indexes."""

from __future__ import annotations

import os
from pathlib import Path

from qa.config import Config
from qa.corpus import scan_corpus
from qa.index import sync
from qa.retrieve import open_index


def test_a_folder_of_bad_files_still_indexes_the_good_ones(tmp_path: Path, fake):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Hull CCG was rated outstanding for a fourth year.")
    (corpus / "nul.txt").write_bytes(b"Some text\x00\x00\x00with NUL bytes\x00" * 50)
    with open(corpus / "huge.txt", "wb") as fh:  # 50 MB: over the default 5 MB cap
        fh.write(b"All work and no play. " * (50 * 1024 * 1024 // 22))
    (corpus / "name with spaces é.txt").write_text("Doncaster CCG was rated outstanding again.")
    words = [f"{a}{b}" for a in ("ccg", "nhs", "rating", "board", "plan") for b in ("alpha", "beta", "gamma", "delta")]
    (corpus / "no punctuation.txt").write_text(" ".join(words[(i * 7) % len(words)] + str(i) for i in range(3000)))
    (corpus / "mojibake.txt").write_text("The CCGâ€™s rating was '˜inadequate' again.")
    (corpus / "loop").symlink_to(corpus)
    result = scan_corpus(corpus, Config().max_file_bytes)
    ids = sorted(a.doc_id for a in result.articles)
    assert ids == ["good", "mojibake", "name with spaces é", "no punctuation"]
    assert sum(w.startswith("nul.txt") for w in result.warnings) == 1
    assert sum(w.startswith("huge.txt") and "size cap" in w for w in result.warnings) == 1
    assert any("symlink loop" in w for w in result.warnings)
    assert [a.text for a in result.articles if a.doc_id == "mojibake"] == ["The CCG’s rating was ‘inadequate’ again."]
    cfg = Config(corpus_dir=corpus, index_dir=tmp_path / "index")
    report = sync(cfg, lambda: fake)
    assert len(report.plan.added) == 4
    idx = open_index(cfg)
    for row in idx.store.iter_passages():
        assert idx.store.article(row.doc_id).text[row.start:row.end] == row.text
    assert max(len(p.text) for p in idx.store.iter_passages() if p.doc_id == "no punctuation") < 5000


def test_hostile_questions_get_an_answer_an_abstention_or_a_clear_error(cfg, fake):
    import pytest

    from qa.answer import Engine
    from qa.errors import QuestionError
    from qa.retrieve import Retriever

    sync(cfg, lambda: fake)
    engine = Engine(Retriever(open_index(cfg), fake))
    for bad in ["", "   \n\t", "x" * 100_000, "?!?...,,;", "\x1b[31m\x07"]:
        with pytest.raises(QuestionError):
            engine.ask(bad)
    for odd in ["¿Por qué se calificó a North Derbyshire como inadecuado?", "[bold red]why[/] [link=file:///etc/passwd]x[/link]",
                "why\x00 was\x1b[2J North Derbyshire rated inadequate?", "北德比郡为什么被评为不合格？", "a"]:
        answer = engine.ask(odd)
        assert answer.abstained or answer.citations
        for c in answer.citations:
            assert engine.store.article(c.doc_id).text[c.start:c.end] == c.quote
