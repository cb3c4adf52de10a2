"""Every weight, cut-off and count of the answer engine, in one record a sweep or a fit can reach."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qa.answer.reader import settings as reader_settings

# written by `python -m bench.fit` (training data and validation figures inside); read once at import
FITTED_PATH = Path(__file__).with_name("weights.json")
_FITTED: dict = json.loads(FITTED_PATH.read_text(encoding="utf-8")) if FITTED_PATH.exists() else {}


# written by `python -m bench.fit_short`: the short-answer span scorer (training data and validation figures inside)
SHORT_PATH = Path(__file__).with_name("short_weights.json")
_SHORT: dict = json.loads(SHORT_PATH.read_text(encoding="utf-8")) if SHORT_PATH.exists() else {}

# written by `python -m bench.fit_reader`: the reader's settings, with the threshold its spans are shown at
_READER: dict = reader_settings() or {}


def _fitted(mode: str, key: str, default):
    value = _FITTED.get(mode, {}).get(key, default)
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class Tuning:
    """Weights of the sentence score and the abstention policy (calibrated on question sets)."""

    # retrieval and passage rerank
    k_passages: int = 8  # passages whose sentences are scored
    w_rerank: float = 1.0  # passage order: 0 = retrieval score alone, 1 = best sentence alone
    # the sentence score
    w_passage: float = 0.1  # the passage's retrieval score (max-normalised)
    w_overlap: float = 0.55  # the question's words the sentence holds, weighted by rarity
    w_dense: float = 0.5  # the sentence's cosine to the query (chosen with the fitted encoder: qa/retrieve.py)
    w_phrase: float = 0.03  # the question's adjacent word pairs found side by side
    w_causal: float = 0.08  # a causal phrase ("because", "due to") answering a why-question
    w_type: float = 0.25  # holding the kind of answer asked for, scaled by its rarity
    type_rarity: float = 1.0  # exponent of that rarity: the bonus is w_type * (1 - share typed) ** type_rarity
    w_time: float = 0.1  # of the time asked about: its article dated (or headlined) in a year asked for; again when it names one
    # asked about "this week" or "recently" (scoring.by_date): w_recent for an article of the day asked, falling to 0
    # over recent_days before it; chosen on news-dev's training quizzes, each asked on its day (docs/benchmarks.md round 10)
    w_recent: float = 0.4
    recent_days: float = 14.0
    day_slack: int = 1  # an article dated up to this many days after the day asked counts as of that day (time zones)
    w_latest: float = 0.1  # the newest article in the running, asked for the latest ("now", "currently"): a tie-break
    w_first: float = 0.1  # ... the oldest, asked for the first ("originally", "the first assessment")
    order_margin: float = 0.1  # in the running: an article whose best sentence scores within this of the best
    w_stale: float = 0.15  # penalty for a sentence that says nothing the question doesn't
    stale_new_words: int = 2  # ... fewer new words than this
    # how much a word counts when it is not the sentence's own
    w_context: float = 0.3  # a word carried from earlier turns, against the question's own words
    title_weight: float = 1.0  # a headline word, for every sentence of its article (and a year asked its date is of: scoring.dated)
    carry_weight: float = 0.6  # a word of the sentence before one opening with "These"/"It"
    speaker_weight: float = 0.6  # a word naming the speaker of a quote
    unknown_word_idf: float = 1.2  # a word no article uses weighs this times the rarest known word
    # forgiving wording
    spell_max_edits: int = 2  # edits allowed to read a misspelt word as an index word (one for short words)
    spell_short: int = 5  # words of at most this many letters get one edit
    timeline_ratio: float = 0.6  # a question about change quotes each dated article whose best sentence scores this share of the best
    timeline_items: int = 5  # at most this many dated quotes
    overview_sentences: int = 3  # sentences quoted for an open request ("Tell me about ...")
    # choosing quotes
    max_quotes: int = 3
    second_quote_ratio: float = 0.80  # a further quote must score this share of the best
    duplicate_overlap: float = 0.6  # word overlap (Jaccard) above which a quote repeats one already chosen
    copy_overlap: float = 0.8  # ... above which, with the same numbers, another article's sentence says the same (corroborates it)
    copy_passage_overlap: float = 0.8  # a passage whose words lie this much inside a better one of another article is a copy
    copy_passage_size: float = 0.5  # ... when neither is less than this share of the other's size (and its numbers are in it)
    # abstention: confidence = sigmoid(conf_bias + conf_weights . Evidence), fitted by bench/fit.py
    unknown_names_share: float = 0.5  # declines when this share of the question's names no article uses
    follow_up_words: int = 3  # a question of at most this many words of its own leans on the earlier turn
    confidence_top: int = 3  # sentences whose coverage, kinds and numbers count as evidence
    # an article this long names what it is about (news-dev's quiz snippets have 2-3); weights.json records the value
    # it was fitted with, and a change needs a refit
    full_article_sentences: int = 8
    conf_weights: tuple[float, ...] = _fitted("hybrid", "weights", (2.0, 2.0, 1.0, -1.0, -1.0, -2.0, -1.0, -1.0, -0.5, -1.0, -1.0, -1.0, -1.0))
    conf_bias: float = _fitted("hybrid", "bias", -2.0)
    abstain_below: float = _fitted("hybrid", "threshold", 0.5)  # confidence under this declines
    conf_weights_bm25: tuple[float, ...] = _fitted("bm25", "weights", (3.0, 0.0, 1.0, -1.0, -1.0, -2.0, -1.0, -1.0, -0.5, -1.0, -1.0, -1.0, -1.0))
    conf_bias_bm25: float = _fitted("bm25", "bias", -2.0)
    abstain_below_bm25: float = _fitted("bm25", "threshold", 0.5)
    # the short answer: z = short_bias + sum of short_weights[name] * feature[name] for each candidate span of the
    # first quote (qa.answer.spans), read as sigmoid(z) or as a softmax over the quote's spans (short_objective);
    # the chosen span is shown when the model's confidence reaches short_below (qa.answer.short.decode)
    short_weights: tuple[tuple[str, float], ...] = tuple(_SHORT.get("weights", {}).items())
    short_lexical: tuple[tuple[str, float], ...] = tuple(_SHORT.get("lexical", {}).items())  # crosses (qa.answer.spanlex)
    short_idf: tuple[tuple[str, float], ...] = tuple(_SHORT.get("idf", {}).items())  # word rarity the model was fitted with
    short_rare_idf: float = _SHORT.get("rare_idf", 1.0)  # ... of a word not in that table
    short_vocab: tuple[str, ...] = tuple(_SHORT.get("vocab", ()))  # words the crosses keep verbatim
    short_bias: float = _SHORT.get("bias", 0.0)
    short_below: float = _SHORT.get("threshold", 1.0)  # no fitted model: no short answer
    short_objective: str = _SHORT.get("objective", "binary")  # softmax: spans share one probability, decoded by expected F1
    short_mbr_top: int = 15  # softmax: the likeliest spans the expected F1 is taken over
    # the reader's likeliest spans (reader_top) re-weighed by the question's words within reader_window words of each:
    # log p + reader_near * that share (qa.answer.spans.near_question, by the span scorer's word rarity: rerun the grid
    # after bench.fit_short); chosen on squad-train's last 2,000 and news-dev's training quizzes (docs/benchmarks.md round 11)
    reader_near: float = 1.0
    reader_top: int = 10
    reader_window: int = 10
    reader_below: float = _READER.get("threshold", 1.0)  # the reader's span is shown at this probability (qa.answer.reader)
