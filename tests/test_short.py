"""The short answer's parts without the model: candidate spans, features, the verified span, SQuAD scoring, output."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from rich.console import Console

from qa.answer import Citation, Tuning, understand
from qa.answer.engine import Answer
from qa.answer.reader import ReaderSpan
from qa.answer.short import ShortAnswer, best_span, short_answer, verify_short
from qa.answer.spanlex import Lexicon
from qa.answer.spans import FEATURES, candidates, featurise, lexical_keys, near_question
from qa.evaluate import Outcome, short_scores, squad_norm, summarise
from qa.render import answer_renderables

SENTENCE = ("Tracy Dowling said 26 CCGs were rated inadequate on 14 August 2017, costing £28 million, or 12.5% of "
            "the budget. A copper statue stands in front.")
ARTICLE = "Headline\n\nIntro sentence here. " + SENTENCE + " Last sentence."


def _citation(quote: str = SENTENCE) -> Citation:
    start = ARTICLE.index(quote)
    return Citation(n=1, doc_id="d1", title="Headline", date="2017", source="", start=start, end=start + len(quote),
                    quote=quote, context=quote, context_start=start, score=1.0)


def test_candidates_hold_typed_spans_and_untyped_phrases_within_a_sentence():
    spans = candidates(SENTENCE)
    by_text = {c.text: c.type for c in spans.cands}
    assert by_text["£28 million"] == "money" and by_text["12.5%"] == "percent"
    assert by_text["14 August 2017"] == "date" and by_text["26"] == "number" and by_text["Tracy Dowling"] == "name"
    assert "A copper statue" in by_text and by_text["A copper statue"] == ""
    assert not any("budget. A" in c.text for c in spans.cands)  # no candidate crosses a full stop
    assert all(SENTENCE[c.start:c.end] == c.text for c in spans.cands)


def test_features_say_whether_a_span_is_the_kind_asked_for_and_new_to_the_question():
    q = understand("How many CCGs were rated inadequate?")
    spans = candidates(SENTENCE)
    rows = dict(zip((c.text for c in spans.cands), featurise(q, spans)))
    assert all(len(x) == len(FEATURES) for x in rows.values())
    named = {t: dict(zip(FEATURES, rows[t])) for t in ("26", "Tracy Dowling", "CCGs were rated inadequate")}
    assert named["26"]["agrees"] == 1 and named["Tracy Dowling"]["agrees"] == 0
    assert named["26"]["new_share"] == 1 and named["CCGs were rated inadequate"]["new_share"] == 0
    assert named["26"]["dist1"] == 1  # "CCGs", a word of the question, right after it


def _tuning(**weights: float) -> Tuning:
    return replace(Tuning(), short_weights=tuple(weights.items()), short_bias=-3.0, short_below=0.5, short_lexical=())


COUNT_QUOTE = ("The first report has rated 10 CCGs as outstanding, a further 82 as good, while 26 CCGs were found to be "
               "inadequate.")


def test_alignment_features_weigh_the_questions_rarer_words_near_a_span():
    q = understand("How many CCGs were rated inadequate?")
    spans = candidates(COUNT_QUOTE)
    lex = Lexicon({"rate": 1.0, "ccg": 3.0, "inadequ": 6.0}, 6.0, frozenset())
    rows = {c.text: dict(zip(FEATURES, x)) for c, x in zip(spans.cands, featurise(q, spans, lex))}
    ten, twenty_six = rows["10"], rows["26"]
    assert ten["count_noun"] == 1 and twenty_six["count_noun"] == 1 and rows["82"]["count_noun"] == 0  # "CCGs" after it
    assert twenty_six["r10"] > ten["r10"]  # "inadequate", the rarest word asked about, follows 26 only
    assert ten["l5"] > twenty_six["l5"]  # "rated" comes before 10
    assert twenty_six["rare_dist"] < ten["rare_dist"]


def test_lexical_crosses_join_the_wh_phrase_to_the_spans_words_or_their_shapes():
    q = understand("How many CCGs were rated inadequate?")
    spans = candidates(COUNT_QUOTE)
    lex = Lexicon({}, 1.0, frozenset({"many", "ccgs", "as"}))
    keys = dict(zip((c.text for c in spans.cands), lexical_keys(q, spans, lex)))
    assert "how many|t=number" in keys["26"] and "how many|n=ccgs" in keys["26"]
    assert "how many|f=~d" in keys["26"] and "how many|p=~x" in keys["26"]  # "while": not in the vocabulary
    assert "how many|f=~Xx" in keys["The first report"] or "how many|f=~Xx" in keys["first report"]


def test_the_crosses_weigh_in_the_score():
    q = understand("How many CCGs were rated inadequate?")
    c = Citation(n=1, doc_id="d1", title="T", date="", source="", start=0, end=len(COUNT_QUOTE), quote=COUNT_QUOTE,
                 context=COUNT_QUOTE, context_start=0, score=1.0)
    lex_tuning = replace(_tuning(agrees=4.0), short_lexical=(("how many|p=while", 3.0),), short_vocab=("while", "many"))
    assert short_answer(q, c, COUNT_QUOTE, lex_tuning).text == "26"  # the number after "while"
    assert short_answer(q, c, COUNT_QUOTE, _tuning(agrees=4.0)).text == "10"  # all numbers alike: the first


def test_the_best_span_becomes_a_short_answer_with_article_offsets_inside_the_first_quote():
    q = understand("How much did it cost?")
    c = _citation()
    short = short_answer(q, c, ARTICLE, _tuning(agrees=6.0, len2=1.0))
    assert short is not None and short.text == "£28 million"
    assert ARTICLE[short.start:short.end] == "£28 million" and c.start <= short.start < short.end <= c.end
    assert short.to_json() == {"text": "£28 million", "doc_id": "d1", "start": short.start, "end": short.end}


def test_no_short_answer_under_the_threshold_or_for_an_open_request():
    c = _citation()
    assert short_answer(understand("How much did it cost?"), c, ARTICLE, _tuning(agrees=1.0)) is None  # p < 0.5
    assert short_answer(understand("Tell me about Tracy Dowling"), c, ARTICLE, _tuning(no_anchor=9.0, t_name=9.0)) is None


def test_a_span_is_verified_against_the_article_and_the_quote():
    c = _citation()
    start = ARTICLE.index("£28 million")
    assert verify_short(ShortAnswer("£28 million", "d1", start, start + 11, 0.9), c, ARTICLE)
    assert not verify_short(ShortAnswer("£29 million", "d1", start, start + 11, 0.9), c, ARTICLE)  # not its text
    outside = ARTICLE.index("Last")
    assert not verify_short(ShortAnswer("Last", "d1", outside, outside + 4, 0.9), c, ARTICLE)  # outside the quote
    assert not verify_short(ShortAnswer("£28 million", "d2", start, start + 11, 0.9), c, ARTICLE)  # another article


def test_squad_normalisation_and_scores():
    assert squad_norm("The  “Main” Building!") == "main building"
    assert short_scores("the Main Building", ("Main Building",)) == (1.0, 1.0)
    em, f1 = short_scores("Main Hall Building", ("Main Building", "a hall"))
    assert em == 0.0 and f1 == pytest.approx(0.8)
    assert short_scores(None, ("x",)) == (0.0, 0.0)


def _outcome(short_em: float | None, short_f1: float | None) -> Outcome:
    return Outcome(id="q", question="?", unanswerable=False, abstained=False, rank=1, first_ok=True, any_ok=True,
                   match=True, citations=1, citations_ok=1, latency_ms=1.0, answer="", short_em=short_em, short_f1=short_f1)


def test_short_metrics_average_only_questions_with_answers():
    metrics = summarise([_outcome(1.0, 1.0), _outcome(0.0, 0.5), _outcome(None, None)], {})
    assert metrics["short_em"] == 0.5 and metrics["short_f1"] == 0.75


def _answer(short: ShortAnswer | None) -> Answer:
    c = _citation()
    return Answer(question="How much did it cost?", answer=f"{SENTENCE} [1]", abstained=False, citations=[c], short_answer=short)


def test_answer_json_has_the_short_answer_or_null():
    start = ARTICLE.index("£28 million")
    short = ShortAnswer("£28 million", "d1", start, start + 11, 0.9)
    assert _answer(short).to_json()["short_answer"] == {"text": "£28 million", "doc_id": "d1", "start": start, "end": start + 11}
    assert _answer(None).to_json()["short_answer"] is None


def test_the_cli_leads_with_the_short_answer_in_bold_and_marks_it_in_the_quote():
    start = ARTICLE.index("£28 million")
    items = answer_renderables(_answer(ShortAnswer("£28 million", "d1", start, start + 11, 0.9)))
    assert items[0].plain == "£28 million" and "bold" in str(items[0].style)
    quote = items[4].renderable  # source line, then the padded quote
    marked = [quote.plain[s.start:s.end] for s in quote.spans if "underline" in str(s.style)]
    assert marked == ["£28 million"]
    console = Console(width=200, force_terminal=False, color_system=None)
    with console.capture() as out:
        console.print(items[0])
    assert out.get().strip() == "£28 million" and "\x1b[" not in out.get()


def test_article_text_in_a_short_answer_is_not_read_as_markup():
    text = "[bold]x[/bold]"
    article = f"Intro. It cost {text} in all."
    quote = f"It cost {text} in all."
    start = article.index(quote)
    c = Citation(n=1, doc_id="d1", title="T", date="", source="", start=start, end=start + len(quote), quote=quote,
                 context=quote, context_start=start, score=1.0)
    s = article.index(text)
    answer = Answer(question="?", answer=quote, abstained=False, citations=[c],
                    short_answer=ShortAnswer(text, "d1", s, s + len(text), 0.9))
    assert answer_renderables(answer)[0].plain == text


def test_a_yes_no_question_gets_no_short_answer():
    from qa.answer.short import best_span

    quote = "NHS England rated 26 CCGs inadequate, with Hull and Doncaster rated outstanding."
    assert best_span(understand("Is Doncaster rated outstanding?"), quote, Tuning()) is None
    assert best_span(understand("Were any CCGs rated inadequate?"), quote, Tuning()) is None
    assert best_span(understand("Which CCGs were rated outstanding?"), quote, Tuning()) is not None
    assert best_span(understand("Compare Cambridgeshire's 2016 and 2018 ratings"), quote, Tuning()) is None
    said = "Simon Stevens, chief executive of NHS England, said: “now is the time to fire the starting gun.”"
    assert best_span(understand("Who said now is the time to fire the starting gun?"), said, Tuning()) is None


def test_a_repeated_name_is_typed_where_it_stands():
    from qa.answer.spans import typed_spans

    text = "The Hull CCG praised Hull."
    names = [(s, e) for s, e, kind in typed_spans(text) if kind == "name" and text[s:e] == "Hull"]
    assert (21, 25) in names and all(text[s:e] == "Hull" for s, e in names)


def test_softmax_spans_are_decoded_by_expected_f1_binary_ones_by_probability():
    """A span agreeing with several likely ones beats a lone one a little likelier (SQuAD's F1 rewards overlap)."""
    from qa.answer.short import decode

    texts = ["Paris", "the copper statue", "copper statue", "a copper statue of liberty"]
    z = [1.2, 1.0, 0.95, 0.9]
    f1, i = decode(texts, z, "softmax", Tuning().short_mbr_top)
    assert texts[i] in ("the copper statue", "copper statue") and 0 < f1 < 1
    p = [math.exp(v) for v in z]
    assert decode(texts, z, "softmax", top=1) == pytest.approx((p[0] / sum(p), 0))  # alone: the likeliest, as sure as its share
    p, j = decode(texts, z, "binary", Tuning().short_mbr_top)
    assert j == 0 and abs(p - 1 / (1 + math.exp(-1.2))) < 1e-9


def test_the_shipped_span_model_declares_the_span_cut_offs_and_features_the_code_computes():
    """Changing a span cut-off (MAX_WORDS, the windows) or the features without refitting fails here:
    run `python -m bench.fit_short --choose` after such a change."""
    import json

    from qa.answer.spans import FEATURES, settings
    from qa.answer.tuning import SHORT_PATH

    shipped = json.loads(SHORT_PATH.read_text(encoding="utf-8"))
    assert shipped["spans"] == settings()
    assert set(shipped["weights"]) == set(FEATURES)


QUOTE = ("The first report has rated 10 CCGs as 'outstanding', a further 82 as 'good', while 26 CCGs were found to be "
         "'inadequate'.")


def _at(text: str) -> tuple[int, int]:
    return QUOTE.index(text), QUOTE.index(text) + len(text)


def test_near_question_weighs_the_questions_own_words_beside_a_span_by_rarity():
    q = understand("How many CCGs were rated inadequate?")
    lex = Lexicon({"ccg": 1.0, "rate": 1.0}, 5.0, frozenset())  # "inadequate" is the rarer word asked
    ten, twenty_six = near_question(q, QUOTE, [_at("10"), _at("26")], lex, 6)
    assert ten == pytest.approx(2 / 7) and twenty_six == pytest.approx(6 / 7)  # "rated 10 CCGs"; "26 CCGs ... inadequate"
    assert near_question(q, QUOTE, [_at("10")], lex, 0) == [0.0]


class _Reader:
    """Stands in for the fitted reader: its spans, likeliest first."""

    def __init__(self, *spans: tuple[tuple[int, int], float]) -> None:
        self.found = [ReaderSpan(start, end, p) for (start, end), p in spans]

    def spans(self, question: str, text: str, k: int = 1) -> list[ReaderSpan]:
        return self.found[:k]


def test_the_readers_likeliest_spans_are_reweighed_by_the_question_words_beside_them():
    q = understand("How many CCGs were rated inadequate?")
    reader = _Reader((_at("10"), 0.4), (_at("26"), 0.37))  # "26" a little less likely
    assert best_span(q, QUOTE, replace(Tuning(), reader_near=0.0), reader).text == "10"  # the reader alone
    assert best_span(q, QUOTE, Tuning(), reader).text == "26"  # as shipped
    assert best_span(q, QUOTE, replace(Tuning(), reader_top=1), reader).text == "10"
    pick = best_span(q, QUOTE, replace(Tuning(), reader_below=0.38), reader)
    assert pick.text == "10" and pick.confidence == 0.4  # a span the reader would not show doesn't compete


def test_a_span_that_trims_to_nothing_gives_way_to_the_next():
    q = understand("How many CCGs were rated inadequate?")
    quote_mark = QUOTE.index("'inadequate'")
    reader = _Reader(((quote_mark - 1, quote_mark + 1), 0.5), (_at("26"), 0.3))  # " '": no words at all
    assert best_span(q, QUOTE, Tuning(), reader).text == "26"
