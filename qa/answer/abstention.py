"""Whether to answer: the one place that decides, from how sure the evidence is and signs there is no answer."""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, fields

from qa.answer.features import Features, within
from qa.answer.question import Question, Word
from qa.answer.scoring import Scored, SentenceScore
from qa.answer.tuning import Tuning
from qa.lexical import tokenize
from qa.retrieve import Hit


@dataclass(frozen=True)
class Decision:
    """Answer or abstain, the confidence behind it, and why it abstains ("" when it answers)."""

    confidence: float
    reason: str

    @property
    def answers(self) -> bool:
        """Whether the engine should quote an answer."""
        return not self.reason


def missing(words: tuple[Word, ...] | list[Word], vocab) -> list[Word]:
    """The words none of whose index tokens is in vocab (anything supporting `in`)."""
    return [w for w in words if w.tokens and all(t not in vocab for t in w.tokens)]


def about_nothing_known(q: Question, vocab, share: float) -> bool:
    """At least `share` of the question's names and years (acronyms aside) are ones no article uses."""
    names = [w for w in q.names if not w.text.isupper()]
    return bool(names) and len(missing(names, vocab)) >= share * len(names)


def unknown_focus(q: Question, vocab) -> list[Word]:
    """The thing asked about ("salary" in "what is the salary of ...") when no article ever mentions it."""
    return missing([q.focus], vocab) if q.focus else []


def elsewhere(names: tuple[Word, ...], cited: str, hits: list[Hit], features: Features) -> list[Word]:
    """The names the cited article lacks but another retrieved article has: the answer may be about something else."""
    absent = missing(names, features.get(cited).vocab)
    others = [features.get(d).vocab for d in {h.doc_id for h in hits} - {cited}]
    return [w for w in absent if any(not missing([w], vocab) for vocab in others)]


def number_missing(q: Question, top: list[SentenceScore], features: Features) -> bool:
    """A measure is asked for ("what is the population of ...") and no close sentence gives it with a number.

    Not asked of every number question: a date may be "the 1920s", a count "none"."""
    noun = set(q.measure.tokens) if q.measure else set()
    if not noun:
        return False
    return not any(s.typed and noun <= set(tokenize(features.get(s.doc_id).sentence(s.idx))) for s in top)


@dataclass(frozen=True)
class Evidence:
    """What the abstention model weighs for one question (the order of its fields is the order of the weights)."""

    coverage: float  # the question's own words the best sentences hold, by rarity
    dense: float  # the best passage's cosine to the query (0 in bm25 mode)
    top_score: float  # the best sentence's score, its being recent news aside (that says which article, not whether it answers)
    names_unknown: float  # share of the question's names and years no article in the index uses
    names_absent_cited: float  # share of the question's proper names the cited article lacks
    names_absent_retrieved: float  # share of its names and numbers no retrieved article has
    names_elsewhere: float  # share of its proper names the cited article lacks and another retrieved article has
    focus_absent: float  # 1 when the thing asked about is in no retrieved article
    kind_missing: float  # 1 when a kind of answer is asked for and no close sentence holds one
    names_off_sentence: float  # share of its proper names the cited sentence (with the one before, its speaker) lacks
    years_off: float  # 1 when it names a year or span the cited sentence's setting doesn't (another year's fact)
    # the same two shares for a full article only (a quiz snippet of two sentences lacks names its story has)
    names_absent_full: float  # names_absent_cited, when the cited article is a full one
    names_elsewhere_full: float  # names_elsewhere, when the cited article is a full one

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The features' names, in the order of the fitted weights."""
        return tuple(f.name for f in fields(cls))

    def vector(self) -> list[float]:
        """The features, in that order."""
        return list(astuple(self))


def gather(q: Question, scored: Scored, hits: list[Hit], vocab, features: Features, tuning: Tuning) -> Evidence:
    """The evidence for and against answering, from the scored sentences, the retrieved articles and the
    index's vocabulary (anything supporting `in`)."""
    top = scored.sentences[: tuning.confidence_top]
    article = features.get(top[0].doc_id)
    cited = article.vocab
    retrieved = [features.get(d).vocab for d in dict.fromkeys(h.doc_id for h in hits)]
    nowhere = [w for w in q.names if w.tokens and all(missing([w], v) for v in retrieved)]
    absent_cited = len(missing(q.proper_names, cited)) / max(len(q.proper_names), 1)
    absent_elsewhere = len(elsewhere(q.proper_names, top[0].doc_id, hits, features)) / max(len(q.proper_names), 1)
    full = len(article.spans) >= tuning.full_article_sentences
    return Evidence(
        coverage=max(s.coverage for s in top),
        dense=max(max(h.dense for h in hits), 0.0),
        top_score=top[0].total - top[0].recent,
        names_unknown=len(missing(q.names, vocab)) / max(len(q.names), 1),
        names_absent_cited=absent_cited,
        names_absent_retrieved=len(nowhere) / max(len(q.names), 1),
        names_elsewhere=absent_elsewhere,
        focus_absent=float(bool(q.focus) and all(missing([q.focus], v) for v in retrieved)),
        kind_missing=float(q.kind is not None and not any(s.typed for s in top)),
        names_off_sentence=names_off_sentence(q, top[0], features),
        years_off=years_off(q, top[0], features),
        names_absent_full=absent_cited if full else 0.0,
        names_elsewhere_full=absent_elsewhere if full else 0.0,
    )


def names_off_sentence(q: Question, s: SentenceScore, features: Features) -> float:
    """Share of the question's proper names that neither the sentence, the one before it, nor its speaker names
    ("Doncaster's accountable officer" answered with Hull's)."""
    if not q.proper_names:
        return 0.0
    art = features.get(s.doc_id)
    words = set(tokenize(art.sentence(s.idx))) | set(art.speakers.get(s.idx, ()))
    if s.idx > 0:
        words |= set(tokenize(art.sentence(s.idx - 1)))
    return len(missing(q.proper_names, art.expand(words))) / len(q.proper_names)


def years_off(q: Question, s: SentenceScore, features: Features) -> float:
    """1 when the question names a year or span that the sentence, the one before it, its article's headline and
    date all leave out: a fact of another year ("rated in 2016/17" answered with 2017/18's)."""
    asked = q.scope
    if not asked:
        return 0.0
    art = features.get(s.doc_id)
    held = art.sentence_periods(s.idx) | art.periods
    if s.idx > 0:
        held |= art.sentence_periods(s.idx - 1)
    return 0.0 if within(asked, held) else 1.0


def confidence(evidence: Evidence, mode: str, tuning: Tuning) -> float:
    """The fitted probability that the best sentence answers the question (`bench/fit.py` fits the weights)."""
    weights, bias = (tuning.conf_weights_bm25, tuning.conf_bias_bm25) if mode == "bm25" else (tuning.conf_weights, tuning.conf_bias)
    z = bias + sum(w * x for w, x in zip(weights, evidence.vector(), strict=True))
    return 1.0 / (1.0 + math.exp(-z))


def decide(q: Question, scored: Scored, hits: list[Hit], mode: str, vocab, features: Features, tuning: Tuning) -> Decision:
    """Answer, or abstain with the reason: no candidate, a thing asked about that no article mentions, a measure
    no close sentence gives with a number (signs there is nothing to quote), or weak evidence (the fitted model)."""
    if not scored.sentences:
        return Decision(0.0, "nothing retrieved")
    if about_nothing_known(q, vocab, tuning.unknown_names_share):
        return Decision(0.0, "the question names something no article mentions")
    if unknown_focus(q, vocab):
        return Decision(0.0, "the question asks about something no article mentions")
    if number_missing(q, scored.sentences[: tuning.confidence_top], features):
        return Decision(0.0, "no close sentence gives the measure asked for with a number")
    # "its chief officer" (or "the chief officer?") after another CCG: the turn it leans on is about another article;
    # a question that stands on its own ("Who said now is the time to ...?") is not held to the earlier turn
    leans = q.refers_back or len(q.tokens) <= tuning.follow_up_words
    if leans and elsewhere(q.carried_names, scored.sentences[0].doc_id, hits, features):
        return Decision(0.0, "the earlier turn it refers to is about another article")
    conf = confidence(gather(q, scored, hits, vocab, features, tuning), mode, tuning)
    if q.open or scored.timeline:
        return Decision(conf, "")  # an overview, or what dated articles say over time: not one answer to be sure of
    threshold = tuning.abstain_below_bm25 if mode == "bm25" else tuning.abstain_below
    return Decision(conf, "" if conf >= threshold else "the evidence is weak")
