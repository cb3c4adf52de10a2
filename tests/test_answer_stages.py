"""Each stage of the answer pipeline on its own, without an index or a model."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from qa.answer.abstention import Evidence, confidence, decide, gather
from qa.answer.citation import choose, cite, speaker_answers, verify
from qa.answer.features import Features
from qa.answer.question import find_names, understand
from qa.answer.scoring import Scored, SentenceScore, add_type_bonus, by_date, dated, recency, score_sentence, weigh_terms
from qa.answer.tuning import Tuning
from qa.corpus import Article
from qa.errors import DateError, QuestionError
from qa.lexical import tokenize
from qa.segment import sentence_spans

TEXT = (
    "North Derbyshire Clinical Commissioning Group (CCG) was rated inadequate in 2017.\n"
    "It must make savings of £28 million this year.\n"
    "These came into force on Monday 14 August 2017.\n"
    "Toby Perkins, the MP for Chesterfield, said:\n"
    "“Patients here deserve better care.\n"
    "“We must do better.”"
)


class Shelf:
    """The two lookups the answer stages make of a store, over articles held in memory."""

    def __init__(self, *articles: Article) -> None:
        self.arts = {a.doc_id: a for a in articles}

    def article(self, doc_id: str) -> Article:
        return self.arts[doc_id]

    def sentences(self, doc_id: str):
        return sentence_spans(self.arts[doc_id].text)


class Vocab:
    """A lexical index stand-in: a vocabulary and an IDF of 1 for each known word."""

    def __init__(self, text: str) -> None:
        self.vocab = set(tokenize(text))

    def idf(self, token: str) -> float:
        return 1.0 if token in self.vocab else 0.0


@pytest.fixture
def features() -> Features:
    return Features(Shelf(Article("nd", "nd.txt", TEXT, "North Derbyshire CCG rated inadequate", "2017-08-14", "Example News")))


def test_a_question_is_understood_once_into_one_record():
    q = understand("  How many CCGs were rated inadequate in 2019/20 by NHS England? ")
    assert q.text == "How many CCGs were rated inadequate in 2019/20 by NHS England?"
    assert q.kind == "count" and q.scope == {(2019, 2020)} and not q.why
    assert [w.text for w in q.names] == ["CCGs", "NHS", "England", "2019/20"]
    assert [w.text for w in q.proper_names] == ["CCGs", "England"]  # acronyms in capitals are no place names
    # a sentence's first word is capitalised by grammar, not because it names something
    assert [w.text for w in understand("Earthlings met this week. Which town in Kent was first?").names] == ["Kent"]
    assert q.query == q.text and q.carried == ()
    assert understand("What is the population of Peterborough?").measure.text == "population"
    assert understand("Why was it rated inadequate?").why
    assert understand("Tell me about Hull CCG").open and understand("Summarise the 2020 article").open
    assert not understand("What did the report say about Hull?").open
    assert understand("Why was it rated inadequate, and what must it do now?").parts == (
        "Why was it rated inadequate", "what must it do now")
    assert understand("Which CCGs were rated good and outstanding?").parts == ()
    assert understand("Tolimir was found guilty of both genocide and what other charge?").parts == ()  # one question
    assert not understand("Had Milosevic not died, what charges might he have been convicted of?").polar
    assert understand("Had Milosevic died before the verdict?").polar
    assert understand("Is Doncaster, which was rated good, now outstanding?").polar  # a relative clause asks nothing
    assert understand("Could you remind me who it was that said now is the time to fire the starting gun?").who_said
    assert understand("Who was it that called the rating disappointing?").who_said
    assert not understand("Who was praised by NHS England?").who_said and not understand("Who is the chief officer?").who_said
    assert understand("Was the CCG, whose chief officer left, praised?").polar
    assert understand("How has the number of inadequate CCGs changed since 2016?").timeline
    assert not understand("How did Luther want people to bring about change?").timeline


def test_a_follow_up_carries_the_names_of_the_turn_it_refers_to():
    history = ["Why was North Derbyshire rated inadequate in 2017?", {"question": "And what happens next?"}]
    q = understand("Who is its chief officer?", history)
    assert q.carried == ("North Derbyshire", "2017") and q.query == "Who is its chief officer? North Derbyshire 2017"
    assert "derbyshir" in q.query_tokens and "derbyshir" not in q.tokens
    # a question naming its own subject carries nothing; acronyms alone ("CCG") are no subject
    assert understand("Who chairs Hull CCG?", history).carried == ()
    assert understand("Who chairs the CCG?", history).carried == ("North Derbyshire", "2017")
    # a whole question that points back to nothing asks afresh: "CCGs" and a year of its own, not the turn before
    assert understand("How many CCGs were rated inadequate in the 2017-18 assessment?", history).carried == ()
    # a who-said question names its subject by what was said; "Who said that?" points back
    assert understand("Who said that ratings aren't everything?", history).carried == ()
    assert understand("Who said that?", history).carried == ("North Derbyshire", "2017")
    # ... but a short one, one opening with "And", or one about "the CCG" still leans on the turn before
    for follow_up in ("And in 2018?", "And how many CCGs were rated outstanding that year?",
                      "How much did the CCG have to save in 2017-18?", "How many were rated good?"):
        assert understand(follow_up, history).carried == ("North Derbyshire", "2017"), follow_up


def test_names_are_runs_of_capitalised_words_joined_by_and_or_of():
    names = find_names("Was Cambridgeshire and Peterborough CCG rated by the Department of Health, or Hull and?")
    assert [(n.text, n.opens) for n in names] == [
        ("Cambridgeshire and Peterborough CCG", False), ("Department of Health", False), ("Hull", False),
    ]
    assert [(n.text, n.opens) for n in find_names("North Derbyshire was rated. Chesterfield too.")] == [
        ("North Derbyshire", True), ("Chesterfield", True),
    ]


@pytest.mark.parametrize("bad", ["", "   ", "?!", "x" * 2001])
def test_an_empty_or_overlong_question_is_a_question_error(bad):
    with pytest.raises(QuestionError):
        understand(bad)


def _scores(question: str, features: Features, tuning: Tuning = Tuning()) -> Scored:
    q = understand(question)
    art = features.get("nd")
    terms = weigh_terms(q, Vocab(TEXT), tuning)
    rows = [score_sentence(q, terms, art, i, 0, 1.0, 0.0, tuning) for i in range(len(art.spans))]
    return add_type_bonus(rows, 1, tuning)


def test_sentence_scores_are_named_parts_that_add_up(features):
    scored = _scores("How much must North Derbyshire save?", features)
    best = scored.sentences[0]
    assert "£28 million" in features.get("nd").sentence(best.idx)
    assert best.typed and best.type_bonus > 0  # money asked for, money held
    parts = best.passage + best.overlap + best.phrase + best.dense + best.causal - best.stale + best.type_bonus
    assert best.total == pytest.approx(parts) and scored.best == [best.total]


def test_a_sentence_opening_with_these_carries_the_words_of_the_one_before(features):
    scored = _scores("When did the savings come into force?", features)
    assert "14 August 2017" in features.get("nd").sentence(scored.sentences[0].idx)


def test_a_quote_carries_its_speaker(features):
    question = "What did Toby Perkins say about care?"
    scored = _scores(question, features)
    top = features.get("nd").sentence(scored.sentences[0].idx)
    assert top == "“Patients here deserve better care."
    assert scored.sentences[0].coverage > _scores(question, features, Tuning(speaker_weight=0.0)).sentences[0].coverage


def test_the_abstention_policy_names_its_reason(features):
    vocab = Vocab(TEXT + " population").vocab
    question = "How much must North Derbyshire save?"
    scored = _scores(question, features)
    hits = [type("Hit", (), {"doc_id": "nd", "dense": 0.9})()]
    tuning = Tuning(conf_weights=(2.0, 2.0, 1.0, -3.0, -1.0, -1.0, -1.0, -1.0, -0.5, 0.0, 0.0, 0.0, 0.0), conf_bias=-2.0,
                    abstain_below=0.5)
    answer = decide(understand(question), scored, hits, "hybrid", vocab, features, tuning)
    assert answer.answers and answer.confidence >= tuning.abstain_below
    unknown = decide(understand("How much must Manchester save?"), scored, hits, "hybrid", vocab, features, tuning)
    assert not unknown.answers and unknown.confidence == 0.0 and "no article mentions" in unknown.reason
    measure = decide(understand("What is the population of Chesterfield?"), scored, hits, "hybrid", vocab, features, tuning)
    assert not measure.answers and "number" in measure.reason
    weak = decide(understand(question), scored, hits, "hybrid", vocab, features, replace(tuning, abstain_below=0.99))
    assert not weak.answers and weak.reason == "the evidence is weak"
    assert not decide(understand("Why?"), Scored([], []), [], "hybrid", vocab, features, tuning).answers


def test_being_recent_news_is_no_evidence_that_a_sentence_answers(features):
    question = "How much must North Derbyshire save?"
    scored = _scores(question, features)
    hits = [type("Hit", (), {"doc_id": "nd", "dense": 0.9})()]
    vocab, q = Vocab(TEXT).vocab, understand(question)
    recent = Scored([replace(s, recent=0.4) for s in scored.sentences], scored.best)
    assert recent.sentences[0].total == pytest.approx(scored.sentences[0].total + 0.4)
    evidence = [gather(q, s, hits, vocab, features, Tuning()).vector() for s in (recent, scored)]
    assert evidence[0] == pytest.approx(evidence[1])


def test_a_name_a_full_article_lacks_counts_apart_from_one_a_snippet_lacks(features):
    # a two-sentence quiz snippet often leaves out names its story has; a full article rarely does
    question = understand("How much must Manchester save?")
    scored = _scores("How much must North Derbyshire save?", features)
    hits = [type("Hit", (), {"doc_id": "nd", "dense": 0.9})()]
    vocab = Vocab(TEXT + " Manchester").vocab
    sentences = len(features.get("nd").spans)
    full = gather(question, scored, hits, vocab, features, Tuning(full_article_sentences=sentences))
    snippet = gather(question, scored, hits, vocab, features, Tuning(full_article_sentences=sentences + 1))
    assert full.names_absent_cited == snippet.names_absent_cited == 1.0
    assert (full.names_absent_full, snippet.names_absent_full) == (1.0, 0.0)
    # with the fitted weights, a full article lacking the name asked about is less sure than a snippet lacking it
    assert confidence(full, "hybrid", Tuning()) < confidence(snippet, "hybrid", Tuning())


def test_confidence_is_the_fitted_logistic_model_of_the_evidence_and_bm25_has_its_own():
    ev = Evidence(coverage=0.5, dense=0.6, top_score=0.7, names_unknown=0.0, names_absent_cited=0.0,
                  names_absent_retrieved=0.0, names_elsewhere=0.0, focus_absent=0.0, kind_missing=1.0,
                  names_off_sentence=0.5, years_off=1.0, names_absent_full=0.0, names_elsewhere_full=1.0)
    tuning = Tuning(conf_weights=(1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, -1.0, -0.5, -3.0, -2.0), conf_bias=-1.0,
                    conf_weights_bm25=(2.0,) + (0.0,) * 12, conf_bias_bm25=0.0)
    assert confidence(ev, "hybrid", tuning) == pytest.approx(1 / (1 + math.exp(-(-1.0 + 0.5 + 1.2 - 1.0 - 0.5 - 0.5 - 2.0))))
    assert confidence(ev, "bm25", tuning) == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert len(Tuning().conf_weights) == len(Evidence.names()) == len(Tuning().conf_weights_bm25)


def test_neighbouring_quotes_merge_and_every_citation_is_the_exact_text(features):
    art = features.get("nd")
    base = SentenceScore("nd", 1, art.spans[1].start, art.spans[1].end, 0, 0.5, 0.3, 0.0, 0.2, 0.0, 0.0, False)
    chosen = [base, replace(base, idx=2, start=art.spans[2].start, end=art.spans[2].end, overlap=0.25)]
    assert choose(chosen, features, Tuning()) == chosen
    [c] = cite(chosen, features)
    assert c.quote == TEXT[c.start:c.end] and c.quote.startswith("It must") and c.quote.endswith("2017.")
    assert c.date == "2017-08-14" and verify(c, TEXT) and not verify(replace(c, start=c.start + 1), TEXT)
    # a further quote must score near the best, and say something new
    assert choose([base, replace(base, idx=4, overlap=0.0, dense=0.0)], features, Tuning()) == [base]
    assert choose([base, replace(base, idx=1)], features, Tuning()) == [base]


def test_the_fitted_weights_match_the_evidence_the_engine_gathers():
    """bench/fit.py wrote weights for exactly these features, in this order: a new feature needs a refit."""
    import json

    from qa.answer.tuning import FITTED_PATH

    fitted = json.loads(FITTED_PATH.read_text(encoding="utf-8"))
    assert fitted["features"] == list(Evidence.names())
    assert fitted["full_article_sentences"] == Tuning().full_article_sentences  # the features' own setting
    for mode in ("hybrid", "bm25"):
        assert len(fitted[mode]["weights"]) == len(Evidence.names()) and 0.0 < fitted[mode]["threshold"] < 1.0
    assert Tuning().conf_weights == tuple(fitted["hybrid"]["weights"]) and Tuning().abstain_below == fitted["hybrid"]["threshold"]


def _two_years() -> Features:
    old = "The CCG was rated inadequate in 2016. Tracy Dowling was its chief officer."
    new = "The CCG was rated inadequate again. Jan Thomas was its chief officer."
    return Features(Shelf(Article("old", "old.txt", old, "CCG rated inadequate", "2016", ""),
                          Article("new", "new.txt", new, "CCG slides back", "2018-07-12", "")))


def _rank(question: str, features: Features, tuning: Tuning = Tuning(), asked: str = "") -> list[str]:
    q = replace(understand(question), asked=asked)
    vocab = Vocab(" ".join(features.store.arts[d].text for d in ("old", "new")))
    terms = weigh_terms(q, vocab, tuning)
    rows = [score_sentence(q, terms, features.get(d), i, h, 1.0, 0.0, tuning)
            for h, d in enumerate(("new", "old")) for i in range(len(features.get(d).spans))]
    scored = add_type_bonus(by_date(rows, q, features, tuning), 2, tuning)
    return [features.get(s.doc_id).sentence(s.idx) for s in scored.sentences]


def _two_days(first: str, second: str) -> Features:
    """Two reports of one contest, the one retrieved first dated `first`."""
    new = "Joey Chestnut won the hot dog eating contest with 63 hot dogs."
    old = "Joey Chestnut won the hot dog eating contest with 76 hot dogs."
    return Features(Shelf(Article("new", "new.txt", new, "Hot dog contest", first, ""),
                          Article("old", "old.txt", old, "Hot dog contest", second, "")))


def test_news_of_the_days_before_the_day_asked_comes_first_when_asked_about_this_week():
    this_week = "How many hot dogs did Joey Chestnut eat to win the contest this week?"
    features = _two_days("2021-07-05", "2022-07-04")  # the older report is retrieved first
    assert _rank(this_week, features, asked="2022-07-08")[0].endswith("76 hot dogs.")
    assert _rank(this_week, features, Tuning(w_recent=0.0), asked="2022-07-08")[0].endswith("63 hot dogs.")
    # asked a year earlier, the later report is not news yet
    assert _rank(this_week, features, asked="2021-07-09")[0].endswith("63 hot dogs.")
    swapped = _two_days("2022-07-04", "2021-07-05")
    assert _rank(this_week, swapped, asked="2021-07-09")[0].endswith("76 hot dogs.")
    # asked without "this week", or years later, the tie goes to the report retrieved first
    assert _rank(this_week.replace(" this week", ""), features, asked="2022-07-08")[0].endswith("63 hot dogs.")
    assert _rank(this_week, features, asked="2026-11-24")[0].endswith("63 hot dogs.")


def test_the_day_asked_is_a_date_or_today():
    import datetime

    from qa.answer.engine import asked_day

    assert asked_day("2022-07-08") == "2022-07-08"
    assert asked_day("") == datetime.date.today().isoformat()
    with pytest.raises(DateError, match=r"the day asked takes a date \(2022-07-08\), not 'yesterday'"):
        asked_day("yesterday")


def test_recency_falls_over_the_horizon_before_the_day_asked():
    assert recency("2022-07-08", "2022-07-08", 14) == 1.0
    assert recency("2022-07-09", "2022-07-08", 14) == 1.0  # the day after: another time zone's today
    assert recency("2022-07-09", "2022-07-08", 14, slack=0) == 0.0
    assert recency("2022-07-01", "2022-07-08", 14) == 0.5
    assert recency("2022-06-01", "2022-07-08", 14) == 0.0
    assert recency("2022-07-10", "2022-07-08", 14) == 0.0  # after the day asked
    assert recency("2022", "2022-07-08", 14) == recency("", "2022-07-08", 14) == recency("2022-07-08", "", 14) == 0.0


def test_the_latest_is_the_newest_article_in_the_running_and_the_first_the_oldest():
    features = _two_years()
    old, new = "Tracy Dowling was its chief officer.", "Jan Thomas was its chief officer."
    assert _rank("Who was originally its chief officer?", features)[0] == old
    assert _rank("Who is its chief officer now?", features)[0] == new
    # the old article is retrieved first here: "now" still takes the newest
    swapped = Features(Shelf(*(replace(a, doc_id={"old": "new", "new": "old"}[a.doc_id])
                               for a in features.store.arts.values())))
    assert _rank("Who is its chief officer now?", swapped)[0] == new
    assert _rank("Who is its chief officer now?", swapped, Tuning(w_latest=0.0))[0] == old
    # an article after the day asked is not the latest
    assert _rank("Who is its chief officer now?", swapped, asked="2017-01-01")[0] == old
    # asked days after the newer one about this week's report, the oldest is still the first
    recent = Features(Shelf(*(replace(a, date=d) for a, d in zip(features.store.arts.values(), ("2021-07-01", "2022-07-07")))))
    first_this_week = "Who was originally its chief officer, as reported this week?"
    assert understand(first_this_week).order == "first" and understand(first_this_week).recent
    assert _rank(first_this_week, recent, asked="2022-07-08")[0] == old


def test_the_running_is_of_articles_by_the_day_asked_and_a_shared_date_goes_to_the_better():
    from qa.answer.scoring import ordinal

    rows = [_row("later", 0, 1.0, False), _row("a", 0, 0.8, False), _row("b", 0, 0.75, False), _row("c", 0, 0.85, False)]
    days = {"a": "2016-07-01", "b": "2018-07-01", "c": "2018-07-01"}  # "later" is after the day asked: not in `days`
    # the best of the articles by the day asked (0.85) sets the running, not the later one's 1.0
    assert ordinal(rows, "latest", days, 0.1) == "c"  # b and c share the newest date: the better of them
    assert ordinal(rows, "first", days, 0.1) == "a"
    assert ordinal(rows, "first", days, 0.02) is None  # only c is in the running
    assert ordinal(rows, "", days, 0.1) is None


@pytest.mark.parametrize("question, recent", [
    ("Which country was shaken by an earthquake this week?", True),
    ("Who resigned recently?", True),
    ("Who leads it today?", True),
    ("Which country was shaken by an earthquake in 2016?", False),
    ("What happened this week in 2021?", False),  # the year decides
    ('What did the minister mean by "this week will be hard"?', False),  # words quoted
])
def test_a_question_about_the_days_before_it_is_asked_is_read_as_one(question, recent):
    assert understand(question).recent is recent


@pytest.mark.parametrize("question, order", [
    ("What is Cambridgeshire's latest rating?", "latest"),
    ("Who is the chief officer now?", "latest"),
    ("When was the CCG first rated inadequate?", "first"),
    ("Who was originally in charge?", "first"),
    ("Who was the chief officer in 2016?", ""),  # the year decides
    ("Who said now is the time to fire the starting gun?", ""),  # words quoted, not a time
    ('What did the minister say about "now is the time"?', ""),
    ("What did the minister say about 'now is the time'?", ""),
    ("Who is the current chief officer?", "latest"),
    ("What is the UK's current account deficit?", ""),
    ("Who most recently won the race?", "latest"),
    ("Who was the first lady?", ""),
    ("What was the first time a spacecraft docked?", ""),
    ("What is the latest news on who originally led it?", ""),  # both: neither
])
def test_a_question_asking_for_the_latest_or_the_first_is_read_as_one(question, order):
    assert understand(question).order == order


def test_a_question_naming_a_year_prefers_that_time():
    features = _two_years()
    tuning = Tuning(w_time=0.2)
    # the article dated in the year asked about comes first, in either order of retrieval
    assert _rank("Who was its chief officer in 2016?", features, tuning)[0] == "Tracy Dowling was its chief officer."
    assert _rank("Who was its chief officer in 2018?", features, tuning)[0] == "Jan Thomas was its chief officer."
    # the time bonus alone (the date not held as a word) does it too
    timed = _rank("Who was its chief officer in 2016?", features, Tuning(w_time=0.2, title_weight=0.0))
    assert timed.index("Tracy Dowling was its chief officer.") < timed.index("Jan Thomas was its chief officer.")
    # without the time weight and the date as a setting, the tie goes to the passage retrieved first (the 2018 one)
    untimed = Tuning(w_time=0.0, title_weight=0.0)
    assert _rank("Who was its chief officer in 2016?", features, untimed)[0] == "Jan Thomas was its chief officer."


def test_a_financial_year_is_not_the_one_before_it_though_they_share_a_calendar_year():
    last = "Every CCG received its 2016/17 rating under the improvement and assessment framework."
    this = "The assessment used the improvement and assessment framework."
    features = Features(Shelf(Article("old", "old.txt", last, "CCGs rated", "2017", ""),
                              Article("new", "new.txt", this, "CCG rated in 2017-18", "2018", "")))
    tuning = Tuning(w_time=0.2)
    asked = "Which framework was used for the 2017-18 assessment?"
    # both articles are of 2017-18 (dated in it), but the sentence naming 2016/17 is of another year
    assert _rank(asked, features, tuning)[0] == this
    # asked about 2016/17, the sentence naming it is of that time
    assert _rank("Which framework was used for the 2016/17 assessment?", features, tuning)[0] == last


def _overlaps(question: str, features: Features, docs: tuple[str, ...]) -> dict[str, float]:
    q, tuning = understand(question), Tuning()
    terms = weigh_terms(q, Vocab(" ".join(features.store.arts[d].text for d in docs)), tuning)
    return {d: score_sentence(q, terms, features.get(d), 0, 0, 1.0, 0.0, tuning).overlap for d in docs}


def test_the_year_asked_is_held_by_the_date_of_a_sentence_naming_none():
    features = Features(Shelf(
        Article("dated", "a.txt", "The CCG is rated inadequate for finance.", "CCG news", "2016-07-01", ""),
        Article("names", "b.txt", "In 2015-2016, the CCG was rated inadequate.", "CCG news", "2018-07-12", ""),
        Article("later", "c.txt", "The CCG is rated inadequate for leadership.", "CCG news", "2018-07-12", ""),
        Article("other", "d.txt", "In 2019 the CCG is rated inadequate for finance.", "CCG news", "2016-07-01", ""),
    ))
    overlap = _overlaps("Was the CCG rated inadequate in 2016?", features, ("dated", "names", "later", "other"))
    # the 2016 article's sentence holds "2016" as its setting, as the sentence naming 2015-2016 holds it in words
    assert overlap["dated"] == pytest.approx(overlap["names"])
    # an article of another year holds nothing of it, nor does the date stand in for a sentence naming another year
    assert overlap["later"] < overlap["dated"] and overlap["other"] < overlap["dated"]


def test_the_year_asked_is_held_by_a_span_naming_it():
    spans = Features(Shelf(
        Article("span", "a.txt", "In 2017-18 the CCG was rated inadequate.", "CCG news", "2019-07-01", ""),
        Article("year", "b.txt", "In 2018 the CCG was rated inadequate.", "CCG news", "2019-07-01", ""),
        Article("past", "c.txt", "In 2016/17 the CCG was rated inadequate.", "CCG news", "2018-07-01", ""),
    ))
    overlap = _overlaps("Was the CCG rated inadequate in 2018?", spans, ("span", "year", "past"))
    # a span naming the year asked holds it ("2017-18" holds 2018); the date doesn't stand in for another year's span
    assert overlap["span"] == pytest.approx(overlap["year"]) and overlap["past"] < overlap["year"]


def test_a_date_holds_only_the_year_it_is_of_and_never_for_a_sentence_continuing_another_years():
    both = Features(Shelf(
        Article("one", "a.txt", "The CCG ratings were poor.", "CCG news", "2016-07-01", ""),
        Article("named", "b.txt", "In 2016 the CCG ratings were poor.", "CCG news", "2016-07-01", ""),
        Article("carried", "c.txt", "In 2015 the ratings were good. It was rated poor.", "CCG news", "2016-07-01", ""),
    ))
    # asked about two years, a 2016 article holds 2016, not 2018; a sentence continuing one naming 2015 holds neither
    overlap = _overlaps("Compare the CCG ratings in 2016 and 2018", both, ("one", "named"))
    assert overlap["one"] == pytest.approx(overlap["named"])
    assert dated(understand("Was it rated poor in 2016?").scope, both.get("carried"), 1, Tuning()) == {}
    assert dated(understand("Was it rated poor in 2016?").scope, both.get("one"), 0, Tuning()) == {"2016": 1.0}


def test_a_date_names_its_year_and_a_span_each_of_its_years():
    from qa.answer.features import year_spans, years_in

    assert year_spans("CNN news quiz evidence, 2010/12/05") == {(2010, 2010)}  # not 2010 to 2012
    assert years_in("published 2003-05-01") == {"2003"}
    assert year_spans("NHS England's 2019/20 assessment, after 2015-2016") == {(2019, 2020), (2015, 2016)}
    assert years_in("the 2017-18 financial year") == {"2017", "2018"}


def test_a_fact_of_another_year_or_about_another_name_counts_against_answering():
    from qa.answer.abstention import names_off_sentence, years_off

    features = _two_years()
    rated, officer = (SentenceScore("old", i, 0, 10, 0, 0.5, 0.3, 0.0, 0.2, 0.0, 0.0, False) for i in (0, 1))
    assert years_off(understand("Was the CCG rated inadequate in 2016?"), rated, features) == 0.0
    assert years_off(understand("Was the CCG rated inadequate in 2019?"), rated, features) == 1.0
    assert years_off(understand("Who was its chief officer in 2016?"), officer, features) == 0.0  # the article's date
    assert years_off(understand("Who was its chief officer?"), officer, features) == 0.0  # no year asked
    # the same relation as the time bonus: 2016 lies inside a span asked; 2016/17 is not 2017-18
    assert years_off(understand("Was the CCG rated inadequate in 2015-2017?"), rated, features) == 0.0
    assert years_off(understand("Was the CCG rated inadequate in 2016-17?"), rated, features) == 0.0
    assert years_off(understand("Was the CCG rated inadequate in 2017-18?"), rated, features) == 1.0
    assert names_off_sentence(understand("What was Tracy Dowling's job?"), officer, features) == 0.0
    assert names_off_sentence(understand("What was Jan Thomas's job?"), officer, features) == 1.0


def test_a_near_duplicate_from_an_article_of_another_date_is_kept_so_both_dates_show():
    features = _two_years()
    rows = [SentenceScore(d, 0, 0, 10, 0, 0.5, 0.3, 0.0, 0.2, 0.0, 0.0, False) for d in ("new", "old")]
    chosen = choose(rows, features, Tuning())
    assert [s.doc_id for s in chosen] == ["new", "old"]
    assert [c.date for c in cite(chosen, features)] == ["2018-07-12", "2016"]
    # the same sentence twice from one article (or undated articles) is still one quote
    assert choose([rows[0], replace(rows[0], idx=0)], features, Tuning()) == [rows[0]]


def _doncaster(*quoted: str) -> Features:
    """An article in which Dr David Crichton speaks: his opening quote, then the quoted lines given."""
    opening = ("Doncaster was rated outstanding.", "Dr David Crichton, clinical chair, said: ‘It is a fantastic achievement.")
    text = "\n".join((*opening, *quoted))
    return Features(Shelf(Article("dn", "dn.txt", text, "Doncaster outstanding", "2020", "")))


def _spanned(features: Features, doc_id: str, i: int) -> SentenceScore:
    """A candidate row for sentence i of an article, with its exact span."""
    span = features.get(doc_id).spans[i]
    return SentenceScore(doc_id, i, span.start, span.end, 0, 0.5, 0.3, 0.0, 0.2, 0.0, 0.0, False)


def test_the_sentence_naming_a_quotes_speaker_is_cited_with_it():
    from qa.answer.citation import with_speaker

    features = _doncaster("‘Our staff work tirelessly.", "He added: ‘Ratings aren’t everything.’")
    art, text = features.get("dn"), features.get("dn").text
    quote = next(i for i in range(len(art.spans)) if art.sentence(i).startswith("He added"))
    top = _spanned(features, "dn", quote)
    # the resolved speaker's words count for the quote
    assert {"crichton", "david"} <= art.speakers[quote]
    who = cite(with_speaker([top], features, first=True), features)
    assert "Dr David Crichton" in who[0].quote and "Ratings aren’t everything" in who[1].quote
    assert all(verify(c, text) for c in who)
    other = cite(with_speaker([top], features, first=False), features)
    assert "Ratings" in other[0].quote and "Crichton" in other[1].quote
    # a quote that names its own speaker needs nothing more
    named = _spanned(features, "dn", 1)
    assert with_speaker([named], features, first=True) == [named]
    # the speaker's sentence chosen further down comes first when it answers, and stays where it is otherwise
    assert with_speaker([top, named], features, first=True) == [named, top]
    assert with_speaker([top, named], features, first=False) == [top, named]


def test_the_speaker_answers_who_did_something_when_the_quote_names_nobody_else():
    features = _doncaster("‘Our staff, led by Jane Hardy, work tirelessly.", "‘Ratings matter less than care.",
                          "He added: ‘Ratings, I’m sure, aren’t everything.’")
    art = features.get("dn")
    at = {art.sentence(i)[:12]: i for i in range(len(art.spans))}
    plain, naming = _spanned(features, "dn", at["He added: ‘R"]), _spanned(features, "dn", at["‘Our staff, "])
    # who doubts it is who speaks, when the quote names no one else ("I’m" is the speaker)
    assert speaker_answers(understand("Who doubts that ratings matter most?"), plain, features)
    # a quote naming someone may name who did it
    assert not speaker_answers(understand("Who leads the staff in Doncaster?"), naming, features)
    # a quote opening with a capitalised word names no one by it
    care = _spanned(features, "dn", at["‘Ratings mat"])
    assert speaker_answers(understand("Who puts care before ratings?"), care, features)
    # "Who will Doncaster thank?" asks whom, and "Who is ..." who someone is: not who spoke; "Who has ..." did something
    for q in ("Who will Doncaster thank?", "who will doncaster thank?", "Who did staff blame?", "Who is the clinical chair?",
              "Who exactly is it?", "Who else will the CCG thank?", "Who didn't the CCG invite?", "Who has been appointed?"):
        assert not understand(q).who, q
    for q in ("Who has praised the staff?", "WHO HAS PRAISED THE STAFF?", "Who else has warned about cuts?",
              "Could you tell me who doubts the ratings?", "who doubts the ratings"):
        assert understand(q).who, q


@pytest.mark.parametrize("question, about_change", [
    ("How has the number of inadequate CCGs changed since 2016?", True),
    ("Has the number of outstanding CCGs grown since the first ratings?", True),
    ("Did the share of inadequate CCGs rise or fall between 2018 and 2020?", True),
    ("What happened to the 'requires improvement' group between 2016 and 2020?", True),
    ("hows the number of ccgs rated good changed?", True),
    ("How have ratings developed over the years?", True),
    ("How did Genghis Khan observe the surrender terms after Samarkand fell?", False),
    ("How many CCGs were rated inadequate in 2016?", False),
    ("Why did the CCG's finances change?", False),
    ("Did the CCG develop a plan from the review?", False),
    ("Did the CCG change its name from NHS North Derbyshire?", False),
    ("Has the deficit risen from £10m?", False),
    ("What was the biggest fine handed out over the years?", False),
    ("How much money was saved over time?", False),
])
def test_a_question_about_change_over_time_is_read_as_one(question, about_change):
    assert understand(question).timeline is about_change


def test_an_open_request_has_no_focus_and_is_about_its_names():
    q = understand("What do the articles say about Cambridgeshire and Peterborough CCG?")
    assert q.open and q.focus is None  # "articles" is not a thing it asks about
    assert q.subject == frozenset(tokenize("Cambridgeshire Peterborough"))


def test_a_subject_is_its_proper_names_with_acronyms_plural_or_possessive_aside():
    assert understand("How has the number of inadequate CCGs changed?").subject == frozenset()
    assert understand("How has Cambridgeshire and Peterborough CCG's rating moved?").subject == frozenset(
        tokenize("Cambridgeshire Peterborough"))


def _three_years() -> Features:
    texts = {
        "a16": ("2016", "The national report was published. 26 CCGs were rated inadequate."),
        "b16": ("2016-07-01", "Cambridgeshire welcomed the work of its staff."),
        "c18": ("2018", "Cambridgeshire was one of 18 CCGs rated inadequate. It was disappointing."),
        "d20": ("2020", "The report covered every CCG. Only 5% were rated inadequate."),
    }
    return Features(Shelf(*(Article(d, f"{d}.txt", t, "", date, "") for d, (date, t) in texts.items())))


def _row(doc: str, idx: int, total: float, typed: bool) -> SentenceScore:
    return SentenceScore(doc, idx, 0, 1, 0, 0.0, total, 0.0, 0.0, 0.0, 0.0, typed)


def _entries(rows: list[SentenceScore], features: Features, **kw) -> list[tuple[str, int]]:
    from qa.answer.scoring import timeline

    return [(s.doc_id, s.idx) for s in timeline(sorted(rows, key=lambda s: -s.total), features, Tuning(), **kw)]


def test_a_timeline_tells_a_change_by_figures_and_by_the_articles_naming_its_subject():
    features = _three_years()
    rows = [_row("a16", 0, 1.0, False), _row("a16", 1, 0.9, True), _row("b16", 0, 0.95, False),
            _row("c18", 1, 0.85, False), _row("c18", 0, 0.8, True), _row("d20", 0, 0.75, False), _row("d20", 1, 0.7, True)]
    # each article's best sentence, in date order
    assert _entries(rows, features) == [("a16", 0), ("b16", 0), ("c18", 1), ("d20", 0)]
    # asked for a count: each article's best sentence holding one; the article holding none is left out
    assert _entries(rows, features, typed=True) == [("a16", 1), ("c18", 0), ("d20", 1)]
    # about Cambridgeshire: only the articles naming it
    about = frozenset(tokenize("Cambridgeshire"))
    assert _entries(rows, features, about=about) == [("b16", 0), ("c18", 1)]
    assert _entries(rows, features, typed=True, about=about) == [("b16", 0), ("c18", 1)]  # one date holds a figure
    # a narrowing that leaves one date is not made
    one_date = [r for r in rows if r.doc_id != "c18"]
    assert _entries(one_date, features, about=about) == [("a16", 0), ("b16", 0), ("d20", 0)]
    assert _entries([r for r in rows if r.doc_id == "a16"], features) == []  # one date: no timeline
    # a sentence far below the best is no entry
    assert _entries(rows + [_row("e", 0, 0.1, True)], features) == [("a16", 0), ("b16", 0), ("c18", 1), ("d20", 0)]


def test_a_timeline_asked_on_a_day_leaves_out_later_articles_but_not_ones_whose_date_cant_be_read():
    from qa.answer.scoring import up_to

    features = _three_years()
    rows = [_row("a16", 0, 1.0, False), _row("c18", 1, 0.85, False), _row("d20", 0, 0.75, False)]
    assert _entries(rows, features, until=up_to("2026-11-25", Tuning())) == [("a16", 0), ("c18", 1), ("d20", 0)]
    assert _entries(rows, features, until=up_to("2019-06-30", Tuning())) == [("a16", 0), ("c18", 1)]
    worded = Features(Shelf(*(Article(d, f"{d}.txt", "It was rated.", "", date, "") for d, date in
                              (("a16", "2016"), ("s19", "Summer 2019"), ("d20", "2020")))))
    rows = [_row("a16", 0, 1.0, False), _row("s19", 0, 0.9, False), _row("d20", 0, 0.8, False)]
    assert [d for d, _ in _entries(rows, worded, until=up_to("2017-06-30", Tuning()))] == ["a16", "s19"]


def test_a_share_asked_for_with_the_is_a_percentage():
    from qa.answer.kinds import question_type

    assert question_type("How has the share of CCGs rated good changed?") == "percent"
    assert question_type("What was the percentage of people that voted in favour?") == "percent"
    assert question_type("How did the CCGs share their plans?") is None


def test_asked_on_a_day_the_articles_dated_after_it_are_left_out_and_undated_or_same_year_ones_stay():
    from types import SimpleNamespace

    from qa.answer.engine import Engine

    listed = [("day", "2022-07-08", "Quiz"), ("next-day", "2022-07-09", "Quiz"), ("later", "2022-07-11", "Quiz"),
              ("undated", "", "Summer news"), ("year", "2022", "Quiz"), ("headline", "", "CNN news quiz evidence, 2022/07/20")]
    store = SimpleNamespace(listing=lambda: [SimpleNamespace(doc_id=d, date=date, title=t) for d, date, t in listed])
    engine = Engine(SimpleNamespace(index=SimpleNamespace(store=store, lexical=None)))
    assert engine.later("2022-07-08") == {"later", "headline"}  # a day's slack for time zones; a headline's date counts
    assert engine.later("2022-07-20") == frozenset() and engine.later("") == frozenset()
