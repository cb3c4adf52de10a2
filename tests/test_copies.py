"""Copies of one story (a syndicated article): quoted once with "also in N other articles", folded into one
result in search and related reading, and counted as the story in eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.config import Config
from qa.copies import collapse, is_copy, same_statement
from qa.evaluate import Question, run_eval
from qa.retrieve import Hit
from qa.session import open_session
from qa.store import PassageRow
from qa.testing import HashingEmbedder

ORIGINAL = "003_584b4c232aff98aa"  # the £28 million story
COPY = "syndicated"


@pytest.fixture
def syndicated(corpus_dir: Path) -> Path:
    """The seed corpus plus the £28 million story as another paper ran it: its own headline, date and byline,
    one phrase changed."""
    text = (corpus_dir / f"{ORIGINAL}.txt").read_text(encoding="utf-8").replace("across the region", "across the county")
    head = "---\ntitle: Derbyshire health body told to save £28m\ndate: 2017-09-01\nsource: Derby Telegraph\n---\n"
    (corpus_dir / f"{COPY}.txt").write_text(head + "By our health reporter\n\n" + text, encoding="utf-8")
    return corpus_dir


def _hit(pid: int, doc: str, text: str, score: float) -> Hit:
    return Hit(PassageRow(pid, doc, 0, len(text), 0, 1, text), score, 0.0, 0.0)


def test_same_statement_needs_the_same_words_and_the_same_numbers():
    a = "NHS England rated 26 CCGs inadequate in its first assessment."
    assert same_statement(a, "NHS England rated 26 CCGs 'inadequate' in its first assessment", 0.8)
    assert not same_statement(a, "NHS England rated 18 CCGs inadequate in its first assessment.", 0.8)
    assert not same_statement(a, "Hull CCG was rated outstanding in its first assessment.", 0.8)


def test_a_copy_cut_at_other_places_is_still_a_copy():
    story = "The clinical commissioning group must save twenty eight million pounds this year after an inadequate rating"
    assert is_copy(story, "By our reporter. " + story + " More later.", 0.8)
    assert not is_copy(story, "Hull and Doncaster were rated outstanding by NHS England", 0.8)


def test_a_passage_with_other_figures_or_much_more_to_say_is_not_a_copy():
    first = "NHS England rated 26 CCGs inadequate in its first assessment of commissioning groups."
    assert not is_copy(first.replace("26", "18"), first, 0.8)  # another figure: another fact
    local = first + " " + " ".join(f"Local sentence {w} about the county's own services." for w in "abcdefgh")
    assert not is_copy(first, local, 0.8)  # the wire paragraph inside a long local story


def test_collapse_folds_copies_from_other_articles_only():
    story = "The clinical commissioning group must save twenty eight million pounds after an inadequate rating."
    hits = [_hit(1, "a", story, 1.0), _hit(2, "a", story + " Again.", 0.9), _hit(3, "b", "Copy: " + story, 0.8),
            _hit(4, "c", "Hull and Doncaster were rated outstanding.", 0.7), _hit(5, "b", story, 0.6)]
    kept, copies = collapse(hits, 0.8)
    assert [h.passage.id for h in kept] == [1, 2, 4]  # a passage of the same article is not a copy
    assert [h.passage.id for h in copies[1]] == [3]  # one entry per other article


@pytest.mark.slow
def test_an_answer_quotes_a_syndicated_story_once_and_lists_the_copy(syndicated: Path, tmp_path: Path, real_embedder):
    cfg = Config(corpus_dir=syndicated, index_dir=tmp_path / "index")
    with open_session(cfg, embedder=real_embedder) as session:
        ans = session.engine.ask("How much money does North Derbyshire CCG have to save?")
        assert not ans.abstained and "£28 million" in ans.citations[0].quote
        first = ans.citations[0]
        other = {ORIGINAL: COPY, COPY: ORIGINAL}[first.doc_id]
        assert [s.doc_id for s in first.also_in] == [other]
        source = first.also_in[0]
        assert same_statement(session.article(other).text[source.start:source.end], first.quote, 0.8)
        assert not any(c.doc_id == other and same_statement(c.quote, first.quote, 0.8) for c in ans.citations)
        shown = [p.doc_id for p in ans.passages]
        story = [p for p in ans.passages if p.doc_id in (ORIGINAL, COPY)]
        assert story and all(p.copies and p.copies[0].doc_id != p.doc_id for p in story[:1])
        assert len(shown) == 10 and len({ORIGINAL, COPY} & set(shown[:1])) == 1


def test_search_shows_each_story_once_with_its_copies(syndicated: Path, tmp_path: Path, monkeypatch):
    import qa.embed

    monkeypatch.setattr(qa.embed, "get_embedder", lambda model: HashingEmbedder())
    args = ["search", "North Derbyshire savings £28 million", "--json", "-k", "4",
            "--corpus", str(syndicated), "--index", str(tmp_path / "index")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert len(rows) == 4
    for i, r in enumerate(rows):  # no result is a copy of another article's result
        assert not any(rows[j]["doc_id"] != r["doc_id"] and is_copy(r["text"], rows[j]["text"], 0.8) for j in range(i))
    folded = [c for r in rows for c in r["also_in"]]
    assert folded and all(c["doc_id"] in (ORIGINAL, COPY) and c["title"] for c in folded)


def test_eval_counts_a_copy_of_the_gold_story_as_found(syndicated: Path, tmp_path: Path):
    cfg = Config(corpus_dir=syndicated, index_dir=tmp_path / "index")
    with open_session(cfg, embedder=HashingEmbedder()) as session:
        ans = session.engine.ask("How much money does North Derbyshire CCG have to save?")
        top = ans.passages[0]
        gold = top.copies[0].doc_id  # the story's other copy: not shown on its own
        q = Question(id="q", question="How much money does North Derbyshire CCG have to save?", doc_ids=(gold,))
        report = run_eval(session.engine, [q])
    assert report["metrics"]["hit@1"] == 1.0
