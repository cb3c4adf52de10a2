"""Cited answers with the real model: exact quotes, abstention, follow-ups, the CLI's JSON shape."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.answer import Engine, verify
from qa.answer.kinds import has_type
from qa.answer.reader import load_reader
from qa.answer.spanlex import Lexicon, question_view
from qa.cli import main
from qa.evaluate import load_questions, run_eval
from qa.index import sync
from qa.retrieve import Retriever, open_index
from tests.conftest import NORTH_DERBYSHIRE, REPO

pytestmark = pytest.mark.slow
CP_DOCS = {"000_d6ad861f9de5a9c7", "001_80afd918b9d33cad"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory, real_embedder):
    from qa.config import Config

    tmp = tmp_path_factory.mktemp("answer")
    cfg = Config(corpus_dir=REPO / "corpus", index_dir=tmp / "index")
    sync(cfg, lambda: real_embedder)
    index = open_index(cfg)
    return Engine(Retriever(index, real_embedder), reader=load_reader(index.manifest, cfg.model))


@pytest.fixture(scope="module", params=["local", "milvus"])
def any_engine(request, tmp_path_factory, real_embedder):
    """The engine over the seed corpus on each backend in turn (the local one above, then a milvus-lite server)."""
    if request.param == "local":
        yield request.getfixturevalue("engine")
        return
    from qa.config import Config
    from tests.conftest import milvus_config

    tmp = tmp_path_factory.mktemp("answer-milvus")
    cfg = milvus_config(Config(corpus_dir=REPO / "corpus", index_dir=tmp / "index"), request.getfixturevalue("milvus_uri"))
    sync(cfg, lambda: real_embedder)
    index = open_index(cfg)
    yield Engine(Retriever(index, real_embedder), reader=load_reader(index.manifest, cfg.model))
    index.close()


def test_every_citation_of_the_question_set_is_an_exact_slice(any_engine):
    engine = any_engine
    checked = 0
    for q in load_questions(REPO / "questions" / "ccg.jsonl"):
        answer = engine.ask(q.question, list(q.history))
        for c in answer.citations:
            text = engine.store.article(c.doc_id).text
            assert text[c.start:c.end] == c.quote and verify(c, text)
            assert f"[{c.n}]" in answer.answer
            checked += 1
    assert checked > 50


def test_north_derbyshire_why_cites_its_article(any_engine):
    engine = any_engine
    answer = engine.ask("Why was North Derbyshire rated inadequate?")
    assert not answer.abstained
    assert answer.citations[0].doc_id == NORTH_DERBYSHIRE
    assert "financial position" in answer.citations[0].quote


def test_first_assessment_count_is_26(engine):
    answer = engine.ask("How many CCGs were rated inadequate in the first assessment?")
    assert not answer.abstained
    assert answer.citations[0].doc_id == "002_1515b01d101f0e19" and "26" in answer.citations[0].quote


@pytest.mark.parametrize(
    "question, expected",
    [
        # "clinical commissioning groups" in the article answers "CCGs" in the question (its acronym)
        ("How many CCGs were rated inadequate in the 2017-18 assessment?", "18 clinical commissioning groups"),
        # a count is wanted: the sentence with 54% beats one with "22 CCGs"
        ("What percentage of CCGs were rated good in 2019/20?", "54%"),
        # "These came into force on ..." carries the sentence before it (the legal directions)
        ("When did the legal directions against North Derbyshire CCG come into force?", "14 August 2017"),
        # the MP is named a paragraph before: the quote runs on, and still says what he said
        ("Why did the Chesterfield MP find the situation worrying?", "deterioration of the financial position"),
        # "money" only names the kind of answer (as "percentage" does): no article need say it
        ("How much money does North Derbyshire have to save?", "£28 million"),
    ],
)
def test_first_quote_answers_the_kind_of_question_asked(engine, question, expected):
    answer = engine.ask(question)
    assert not answer.abstained
    assert expected in answer.citations[0].quote


@pytest.mark.parametrize(
    "question",
    [
        "What rating did Manchester CCG get?",  # a name no article uses
        "How many CCGs were rated inadequate in 2022?",  # a year no article uses
        "What was Bristol CCG's annual budget?",  # Bristol is named, but not where budgets are
        "What is the salary of the chief executive of NHS England?",  # no article mentions a salary
        "What is the population of Peterborough?",  # "population" is used, but with no number
    ],
)
def test_questions_about_things_no_article_mentions_abstain(engine, question):
    answer = engine.ask(question)
    assert answer.abstained and not answer.citations and answer.passages


def test_bm25_alone_has_its_own_fitted_model_and_declines_little(engine):
    """`--retriever bm25` has no dense score: its own fitted weights and threshold keep it from declining most answers."""
    questions = list(load_questions(REPO / "questions" / "ccg.jsonl"))
    bm25 = {**(r := run_eval(engine, questions, mode="bm25"))["metrics"], **r["extra_metrics"]}
    hybrid = {**(r := run_eval(engine, questions))["metrics"], **r["extra_metrics"]}
    assert bm25["answerable_declined"] <= 0.05 and bm25["abstain_recall"] >= hybrid["abstain_recall"] - 0.05


def test_follow_up_resolves_to_the_ccg_of_the_previous_turn(any_engine):
    engine = any_engine
    answer = engine.ask("Who is its chief officer?", ["Why was Cambridgeshire and Peterborough CCG rated inadequate?"])
    assert not answer.abstained
    assert answer.citations[0].doc_id in CP_DOCS
    assert any(name in answer.answer for name in ("Tracy Dowling", "Jan Thomas"))


def test_follow_up_about_a_ccg_whose_article_does_not_say_abstains(engine):
    """No article names North Derbyshire's chief officer: Cambridgeshire's officers are no answer."""
    answer = engine.ask("Who is its chief officer?", ["Why was North Derbyshire rated inadequate?"])
    assert answer.abstained and not answer.citations
    assert engine.ask("Who is the chief officer?", ["Why was North Derbyshire rated inadequate?"]).abstained


def test_a_question_that_stands_on_its_own_is_answered_after_a_turn_about_something_else(engine):
    answer = engine.ask("Who said now is the time to fire the starting gun?", ["Was Hull CCG rated outstanding?"])
    assert not answer.abstained and "Simon Stevens" in answer.answer


def test_ask_cli_json_shape_and_bad_questions(tmp_path: Path, real_embedder):
    runner = CliRunner()
    args = ["--corpus", str(REPO / "corpus"), "--index", str(tmp_path / "index")]
    result = runner.invoke(main, ["ask", "Why was North Derbyshire rated inadequate?", "--json", *args])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) >= {"question", "answer", "abstained", "short_answer", "citations", "passages", "timings_ms"}
    assert payload["short_answer"] is None  # a why-question has no short answer
    result = runner.invoke(main, ["ask", "How much does North Derbyshire CCG have to save?", "--json", *args])
    short = json.loads(result.stdout)["short_answer"]
    assert set(short) == {"text", "doc_id", "start", "end"} and short["text"] == "£28 million"
    assert set(payload["citations"][0]) >= {"n", "doc_id", "title", "start", "end", "quote", "context", "score"}
    for bad in ["", "   ", "x" * 5000]:
        result = runner.invoke(main, ["ask", bad, *args])
        assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.mark.parametrize(("spelled", "typed"), [
    ("Who is the chief officer of Cambridgeshire and Peterborough CCG?", "who is the cheif oficer of cambridgeshire and peterborogh ccg"),
    ("How many CCGs were rated inadequate in the first assessment?", "how mnay ccgs were rated inadequte in the frist assessment"),
    ("How many CCGs were rated inadequate?", "HOW MANY CCGS WERE RATED INADEQUATE?"),  # shouted: it was declined
    ("How many CCGs were rated outstanding in 2019/20?", "HOW MNAY CCGS WERE RATD OUTSTANDNG IN 2019/20?"),  # shouted typos
])
def test_a_misspelt_question_is_answered_like_the_spelled_one(engine, spelled, typed):
    right, answer = engine.ask(spelled), engine.ask(typed)
    assert not answer.abstained and answer.question == typed
    assert (answer.citations[0].doc_id, answer.citations[0].start) == (right.citations[0].doc_id, right.citations[0].start)
    assert answer.short_answer.text == right.short_answer.text


def test_an_open_request_is_answered_with_the_articles_most_central_sentences(engine):
    answer = engine.ask("Tell me about North Derbyshire CCG")
    assert not answer.abstained and answer.answer.startswith("The most central sentences of “£28 MILLION")
    assert {c.doc_id for c in answer.citations} == {NORTH_DERBYSHIRE} and len(answer.citations) >= 1
    for c in answer.citations:
        assert verify(c, engine.store.article(c.doc_id).text)
    dated = engine.ask("Summarise the 2020 article")
    assert {c.date[:4] for c in dated.citations} == {"2020"}
    assert engine.ask("Tell me about Manchester CCG").abstained  # no article mentions it: nothing to summarise


def test_an_open_request_about_an_organisation_an_article_mentions_in_passing_quotes_what_it_says_of_it(engine):
    answer = engine.ask("Tell me about Croydon CCG.")
    assert answer.kind == "overview" and answer.citations
    assert all("Croydon" in c.quote for c in answer.citations) and "special measures" in answer.citations[0].quote
    asked = engine.ask("What do the articles say about Cambridgeshire and Peterborough CCG?")
    assert asked.kind == "overview" and all("Cambridgeshire" in c.quote for c in asked.citations)


def test_a_question_naming_a_year_quotes_the_article_of_that_year_first(engine):
    answer = engine.ask("Who was the chief officer of Cambridgeshire and Peterborough CCG in 2016?")
    first = answer.citations[0]
    assert not answer.abstained and "Tracy Dowling" in first.quote and first.date == "2016"
    assert "Jan Thomas" not in first.quote


def test_a_year_asked_is_held_by_its_articles_date_as_by_a_sentence_naming_it(engine):
    # the 2016 article's sentence names no year; the 2018 article's "In 2015-2016, the CCG was also rated inadequate"
    # names it in words, and used to come first without saying in which areas
    answer = engine.ask("In which areas was Cambridgeshire and Peterborough CCG rated inadequate in 2016?")
    first = answer.citations[0]
    assert not answer.abstained and "well led and for finance" in first.quote and first.date == "2016"


def test_who_said_names_the_speaker_a_pronoun_attribution_refers_to(engine):
    answer = engine.ask("Who said that ratings aren't everything?")
    assert not answer.abstained and "David Crichton" in answer.answer
    assert "David Crichton" in answer.citations[0].quote
    assert any("Ratings aren’t everything" in c.quote for c in answer.citations)
    for c in answer.citations:
        assert verify(c, engine.store.article(c.doc_id).text)


@pytest.mark.parametrize("question, first, also", [
    # the MP's quote names no one: the sentence naming him answers "who", first
    ("Who thinks the health secretary's decisions are partly to blame for the problems in north Derbyshire?",
     "Toby Perkins", "decisions of the health secretary"),
    # ... also when his sentence was chosen further down
    ("Who has criticised the health secretary's decisions over north Derbyshire?", "Toby Perkins",
     "decisions of the health secretary"),
    # asked whom the CCG will involve, the quote itself answers
    ("Who will Cambridgeshire and Peterborough CCG involve in its plans?", "member practices", None),
])
def test_who_did_something_is_answered_by_the_quotes_speaker_only_when_the_quote_names_no_one(engine, question, first, also):
    answer = engine.ask(question)
    assert not answer.abstained and first in answer.citations[0].quote
    assert also is None or any(also in c.quote for c in answer.citations[1:])
    for c in answer.citations:
        assert verify(c, engine.store.article(c.doc_id).text)


def test_each_part_of_a_two_part_question_gets_a_quote(engine):
    answer = engine.ask("Why was North Derbyshire rated inadequate, and what did Toby Perkins say?")
    quotes = " ".join(c.quote for c in answer.citations)
    assert "financial position" in quotes and "Toby Perkins, said" in quotes
    for c in answer.citations:
        assert verify(c, engine.store.article(c.doc_id).text)


def test_since_and_until_keep_answers_to_articles_of_those_dates(tmp_path: Path, real_embedder):
    runner = CliRunner()
    args = ["--corpus", str(REPO / "corpus"), "--index", str(tmp_path / "index")]
    question = "How many CCGs were rated inadequate?"
    for option, keep in (("--since=2019", lambda y: y >= "2019"), ("--until=2016", lambda y: y <= "2016")):
        result = runner.invoke(main, ["ask", question, option, "--json", *args])
        answer = json.loads(result.stdout)
        assert not answer["abstained"] and all(keep(c["date"][:4]) for c in answer["citations"])
    unfiltered = json.loads(runner.invoke(main, ["ask", question, "--json", *args]).stdout)
    assert {c["date"][:4] for c in unfiltered["citations"]} - {"2019", "2020"}  # the filter is what kept them
    fresh = ["--corpus", str(REPO / "corpus"), "--index", str(tmp_path / "other")]
    bad = runner.invoke(main, ["ask", question, "--since", "2019-13", *fresh])
    assert bad.exit_code == 1 and "--since takes a year, a year-month or a date" in bad.stderr
    assert not (tmp_path / "other").exists()  # refused before anything is built


def test_a_question_about_this_week_is_answered_from_the_news_of_the_week_it_is_asked_in(tmp_path: Path, real_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, day, count in (("a", "2021-07-05", 76), ("b", "2022-07-04", 63)):
        (corpus / f"{name}.txt").write_text(f"---\ntitle: Hot dog contest\ndate: {day}\n---\nJoey Chestnut won the "
                                            f"hot dog eating contest, eating {count} hot dogs in ten minutes.\n", encoding="utf-8")
    args = ["--corpus", str(corpus), "--index", str(tmp_path / "index"), "--json"]
    question = "How many hot dogs did Joey Chestnut eat to win the contest this week?"
    for day, count, date in (("2021-07-09", "76", "2021-07-05"), ("2022-07-08", "63", "2022-07-04")):
        result = CliRunner().invoke(main, ["ask", question, "--asked", day, *args])
        payload = json.loads(result.stdout)
        first = payload["citations"][0]
        assert count in first["quote"] and first["date"] == date and payload["asked"] == day  # the day it was read against
    bad = CliRunner().invoke(main, ["ask", question, "--asked", "yesterday", *args])
    assert bad.exit_code == 1 and "--asked takes a date (2022-07-08), not 'yesterday'" in bad.stderr  # as --since


def test_an_eval_question_can_carry_a_date_filter(any_engine, tmp_path: Path):
    engine = any_engine
    line = {"id": "f", "question": "How many CCGs were rated inadequate?", "doc_ids": ["004_9f3181c418ccf80d"]}
    path = tmp_path / "q.jsonl"
    for extra, hit in (({}, 0.0), ({"since": "2019"}, 1.0)):
        path.write_text(json.dumps({**line, **extra}) + "\n", encoding="utf-8")
        assert run_eval(engine, list(load_questions(path)))["metrics"]["hit@1"] == hit


def test_a_question_about_change_is_a_dated_timeline_of_several_articles(any_engine):
    engine = any_engine
    answer = engine.ask("How has the number of inadequate CCGs changed over the years?")
    assert answer.kind == "timeline" and answer.to_json()["kind"] == "timeline" and not answer.abstained
    dates = [c.date for c in answer.citations]
    assert len({c.doc_id for c in answer.citations}) >= 3 and dates == sorted(dates) and all(dates)
    lines = answer.answer.splitlines()
    assert len(lines) == len(answer.citations) and all(line.startswith(f"{c.date}: ") for line, c in zip(lines, answer.citations))
    for c in answer.citations:
        assert verify(c, engine.store.article(c.doc_id).text)
    # a change in a number is told by each year's figure: 26 in 2016, one of 18 in 2018; no entry without one
    assert all(has_type(c.quote, "count") and "NHS 111" not in c.quote for c in answer.citations), [c.quote for c in answer.citations]
    assert "26 CCGs" in answer.citations[0].quote and "18" in next((c.quote for c in answer.citations if c.date.startswith("2018")), "")
    assert engine.ask("Why was North Derbyshire rated inadequate?").kind == "answer"


@pytest.mark.parametrize("question", ["How did the rating of Cambridgeshire and Peterborough CCG change between 2016 and 2018?",
                                      "How has Cambridgeshire and Peterborough CCG's assessment changed since 2016?"])
def test_a_change_of_one_organisation_is_told_by_the_articles_naming_it(engine, question):
    answer = engine.ask(question)
    assert answer.kind == "timeline" and len({c.date for c in answer.citations}) >= 2
    for c in answer.citations:  # not the 2016 national round-up, nor 2020's: neither names Cambridgeshire
        assert "Cambridgeshire" in engine.store.article(c.doc_id).text, c.quote


def test_who_said_a_quote_names_its_speaker(engine):
    answer = engine.ask("Who said now is the time to fire the starting gun?")
    assert "Simon Stevens" in answer.citations[0].quote and "starting gun" in answer.answer


def test_first_assessment_short_answer_is_26_inside_its_first_quote(engine):
    answer = engine.ask("How many CCGs were rated inadequate in the first assessment?")
    short, first = answer.short_answer, answer.citations[0]
    assert short is not None and short.text == "26"
    assert short.doc_id == first.doc_id and first.start <= short.start < short.end <= first.end
    assert engine.store.article(short.doc_id).text[short.start:short.end] == "26"


def test_asked_without_a_year_the_newest_count_leads_and_the_older_shows_with_its_date(engine):
    # 2018's "one of the 18 clinical commissioning groups that was rated inadequate" holds every word asked once
    # "CCGs" is read as "CCG"; 2016's 26 follows it, each quote with its date
    answer = engine.ask("How many CCGs were rated inadequate?")
    first = answer.citations[0]
    assert first.date.startswith("2018") and answer.short_answer is not None and answer.short_answer.text == "18"
    assert any(c.date.startswith("2016") and re.search(r"\b26 (CCGs|clinical)", c.quote) for c in answer.citations[1:])


def test_asked_on_a_past_day_an_answer_quotes_only_what_was_news_by_then(engine):
    # asked in January 2017 the 2018 count (18) was not yet news: 2016's 26 answers, and no later article is quoted or listed
    answer = engine.ask("How many CCGs were rated inadequate?", asked="2017-01-15")
    assert answer.short_answer is not None and answer.short_answer.text == "26"
    assert answer.citations and all(c.date[:4] <= "2017" for c in answer.citations)
    assert answer.passages and all(p.date[:7] <= "2017-01" for p in answer.passages)


def test_the_short_answer_reads_the_question_as_corrected(engine):
    # "ccgs" typed in lower case is read as the index's "ccg" by retrieval and by the short answer's word features alike
    q = engine.understand("how mnay ccgs were rated inadequte in the frist assessment")
    assert q.text.startswith("how mnay ccgs") and "ccg" in q.tokens
    assert "ccg" in question_view(q, Lexicon({}, 1.0, frozenset())).stems


def test_every_short_answer_of_the_question_set_is_the_article_text_inside_the_first_quote(engine):
    shown = 0
    for q in load_questions(REPO / "questions" / "ccg.jsonl"):
        answer = engine.ask(q.question, list(q.history), dates=q.dates)
        short = answer.short_answer
        if short is None:
            continue
        first = answer.citations[0]
        text = engine.store.article(short.doc_id).text
        assert text[short.start:short.end] == short.text, q.id
        assert short.doc_id == first.doc_id and first.start <= short.start < short.end <= first.end, q.id
        assert answer.kind == "answer" and not answer.abstained, q.id
        shown += 1
    assert shown >= 20  # the set has many who/how many/how much/when questions


def test_a_whole_question_asked_after_another_turn_is_answered_as_if_asked_first(engine):
    """In the chat, a new question about CCGs in general after a North Derbyshire answer is not read as about it."""
    question = "How many CCGs were rated inadequate in the 2017-18 assessment?"
    answer = engine.ask(question, ["Who issued the orders to North Derbyshire CCG?"])
    assert not answer.abstained and "18 clinical commissioning groups" in answer.citations[0].quote
    assert answer.citations[0].quote == engine.ask(question).citations[0].quote
