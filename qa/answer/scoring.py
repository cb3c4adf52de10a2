"""Scoring sentences: each sentence of the retrieved passages gets a `SentenceScore` made of named parts."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from qa.answer.features import ArticleFeatures, Features, within
from qa.answer.kinds import has_type
from qa.answer.question import Question
from qa.answer.tuning import Tuning
from qa.dates import DateRange
from qa.lexical import tokenize
from qa.retrieve import Hit, Retriever

CAUSAL = re.compile(
    r"\b(because|due to|owing to|as a result|result(ed)? in|led to|reflects?|"
    r"caused?|reasons?|so that|in order to)\b",
    re.I,
)
# a sentence that reports speech: the kind of answer a who-said question wants
SAYS = re.compile(r"\b(said|says|added|adds|told|explained|stated|commented|warned)\b", re.I)


@dataclass(frozen=True)
class QueryTerms:
    """The question's words as the sentence scorer weighs them, computed once per question."""

    base: dict[str, float]  # IDF of each query word
    weights: dict[str, float]  # the same, lowered for words brought in from earlier turns
    total: float
    cover: frozenset[str]  # the question's own words that an answer should cover
    cover_total: float
    pairs: dict[frozenset[str], float]  # adjacent word pairs of the question, weighted
    pairs_total: float


@dataclass(frozen=True)
class SentenceScore:
    """One sentence's score and its parts (each already weighted); `total` adds them in a fixed order."""

    doc_id: str
    idx: int  # sentence index in its article
    start: int
    end: int
    hit: int  # which retrieved passage it was scored in
    passage: float  # the passage's retrieval score
    overlap: float  # the question's words it holds (or its setting holds), by rarity
    phrase: float  # the question's word pairs it holds side by side
    dense: float  # its cosine to the query
    causal: float  # a causal phrase, for a why-question
    stale: float  # penalty: it says nothing the question doesn't
    typed: bool  # it holds the kind of answer asked for
    type_bonus: float = 0.0  # the bonus for that, set once every candidate is known
    coverage: float = 0.0  # the share of the question's own words (by rarity) it or its setting holds
    time: float = 0.0  # the bonus for being of the time asked about: the years it names, or the latest (first) asked for
    recent: float = 0.0  # the bonus for being news of the days before the question is asked (which article, not whether it answers)

    @property
    def total(self) -> float:
        """The sentence's score."""
        return (
            self.passage + self.overlap + self.phrase + self.dense + self.causal - self.stale + self.type_bonus + self.time
            + self.recent
        )


@dataclass(frozen=True)
class Scored:
    """Every candidate sentence best first, each retrieved passage's best sentence score, and (for a
    two-part question) the best sentence for each part."""

    sentences: list[SentenceScore]
    best: list[float]
    parts: tuple[SentenceScore, ...] = ()
    timeline: tuple[SentenceScore, ...] = ()  # for a question about change: one sentence per dated article, by date


def pairs(tokens: list[str] | tuple[str, ...]) -> set[frozenset[str]]:
    """Unordered pairs of adjacent tokens (stopwords already dropped): a phrase's trace."""
    return {frozenset(p) for p in zip(tokens, tokens[1:]) if p[0] != p[1]}


def weigh_terms(q: Question, lexical, tuning: Tuning) -> QueryTerms:
    """The question's words with their weights (IDF), for every sentence to be scored."""
    own = set(q.tokens) - q.wh_tokens  # "many" of "how many" is the question word's: no sentence need hold it
    query = [t for t in q.query_tokens if t not in q.wh_tokens]
    max_idf = max([lexical.idf(t) for t in query] + [1.0])
    # a word the corpus never uses weighs like the rarest word it has: it is probably the point;
    # words brought in from earlier turns steer retrieval but count for less in choosing sentences
    base = {t: (lexical.idf(t) if t in lexical.vocab else max_idf * tuning.unknown_word_idf) for t in query}
    weights = {t: w * (1.0 if t in own else tuning.w_context) for t, w in base.items()}
    # the answer-kind noun ("what role ...") needn't be in the answer, so it doesn't count for coverage
    cover = frozenset(own - set(q.type_noun.tokens if q.type_noun else ()))
    weighted_pairs = {p: sum(base.get(t, 0.0) for t in p) for p in pairs([t for t in q.tokens if t not in q.wh_tokens])}
    return QueryTerms(
        base=base, weights=weights, total=sum(weights.values()) or 1.0,
        cover=cover, cover_total=sum(base[t] for t in cover if t in base) or 1.0,
        pairs=weighted_pairs, pairs_total=sum(weighted_pairs.values()) or 1.0,
    )


def credit(art: ArticleFeatures, i: int, own: set[str], tuning: Tuning,
           scope: frozenset[tuple[int, int]] = frozenset()) -> dict[str, float]:
    """How much each word counts for sentence i: its own words fully, its setting's words in part.

    A headline word sets the scene for every sentence; a sentence opening with "These"/"It" carries
    the one before it; a quote carries who said it; a year asked (of `scope`) is held as `dated` says."""
    out = dict.fromkeys(art.headline if tuning.title_weight else (), tuning.title_weight)
    if art.carries(i):
        for t in art.expand(set(tokenize(art.sentence(i - 1)))):
            out[t] = max(out.get(t, 0.0), tuning.carry_weight)
    for t in art.speakers.get(i, ()) if tuning.speaker_weight else ():
        out[t] = max(out.get(t, 0.0), tuning.speaker_weight)
    for t, w in dated(scope, art, i, tuning).items():
        out[t] = max(out.get(t, 0.0), w)
    out.update(dict.fromkeys(own, 1.0))
    return out


def dated(scope: frozenset[tuple[int, int]], art: ArticleFeatures, i: int, tuning: Tuning) -> dict[str, float]:
    """Each single year asked that sentence i holds beyond its own words.

    A span the sentence names may hold it ("2017-18" holds 2018). A sentence naming no year, nor continuing one
    that does, holds it as its setting when its article's date (or headline) is of that year, like a headline word.
    """
    held, weight = art.sentence_periods(i), 1.0
    if not held and not (art.carries(i) and art.sentence_periods(i - 1)):
        held, weight = art.periods, tuning.title_weight
    years = [a[0] for a in scope if a[0] == a[1]]
    return {str(y): weight for y in years if weight and within(frozenset({(y, y)}), held)}


def score_sentence(
    q: Question, terms: QueryTerms, art: ArticleFeatures, i: int, hit: int, pscore: float, sim: float, tuning: Tuning
) -> SentenceScore:
    """Sentence i of an article, scored for the question (before the answer-type bonus)."""
    sent = art.sentence(i)
    sent_tokens = tokenize(sent)
    own = art.expand(set(sent_tokens))
    words = credit(art, i, own, tuning, q.scope)
    overlap = sum(w * words[t] for t, w in terms.weights.items() if t in words) / terms.total
    phrase = 0.0
    if terms.pairs and tuning.w_phrase:
        found = pairs(sent_tokens)
        phrase = tuning.w_phrase * sum(w for p, w in terms.pairs.items() if p in found) / terms.pairs_total
    headline = art.headline if tuning.title_weight else frozenset()
    span = art.spans[i]
    return SentenceScore(
        doc_id=art.doc_id, idx=i, start=span.start, end=span.end, hit=hit,
        passage=tuning.w_passage * pscore, overlap=tuning.w_overlap * overlap, phrase=phrase,
        dense=tuning.w_dense * sim,
        causal=tuning.w_causal if q.why and CAUSAL.search(sent) else 0.0,
        # it says nothing the question doesn't (a headline restating it)
        stale=tuning.w_stale if len(own - set(q.query_tokens) - headline) < tuning.stale_new_words else 0.0,
        typed=has_type(sent, q.kind) or (q.who_said and (i in art.speaker_spans or bool(SAYS.search(sent)))),
        # of the time asked about: its article dated (or headlined) in a period asked for, and it naming one, each count
        time=tuning.w_time * (within(q.scope, art.periods) + within(q.scope, art.sentence_periods(i))),
        coverage=sum(terms.base[t] for t in terms.cover if t in words and t in terms.base) / terms.cover_total,
    )


def score_passages(q: Question, hits: list[Hit], retriever: Retriever, features: Features, tuning: Tuning) -> Scored:
    """Every sentence of the retrieved passages scored, best first, with the answer-type bonus."""
    if not hits:
        return Scored([], [])
    terms = weigh_terms(q, retriever.index.lexical, tuning)
    top = max(h.score for h in hits) or 1.0
    rows: list[SentenceScore] = []
    for h, hit in enumerate(hits):
        art = features.get(hit.doc_id)
        sims = retriever.sentence_scores(q.query, hit.passage.id) if tuning.w_dense else None
        for i in range(hit.passage.first_sentence, hit.passage.last_sentence):
            sim = float(sims[i - hit.passage.first_sentence]) if sims is not None else 0.0
            rows.append(score_sentence(q, terms, art, i, h, hit.score / top, sim, tuning))
    return add_type_bonus(by_date(rows, q, features, tuning), len(hits), tuning)


def by_date(rows: list[SentenceScore], q: Question, features: Features, tuning: Tuning) -> list[SentenceScore]:
    """The bonuses of the day asked: news of the days before it, asked about "this week" or "recently" (`recent`), and
    the newest (oldest) article in the running, asked for the latest (first) (`time`)."""
    days = {d: features.get(d).day for d in dict.fromkeys(r.doc_id for r in rows)}
    until = up_to(q.asked, tuning)
    known = {d: day for d, day in days.items() if day and until.contains(day)}  # no later article is the latest
    weight = tuning.w_recent if q.recent and not (q.scope or q.timeline or q.order == "first") else 0.0
    recent = {d: weight * recency(day, q.asked, tuning.recent_days, tuning.day_slack) for d, day in days.items()}
    order = ordinal(rows, q.order, known, tuning.order_margin)
    bonus = tuning.w_first if q.order == "first" else tuning.w_latest
    return [replace(r, recent=recent[r.doc_id], time=r.time + (bonus if r.doc_id == order else 0.0))
            if recent[r.doc_id] or r.doc_id == order else r for r in rows]


def up_to(asked: str, tuning: Tuning) -> DateRange:
    """The articles that were news on the day asked: dated up to it (or `day_slack` days after: time zones)."""
    return DateRange(until=_after(asked, tuning.day_slack) or None)


def recency(day: str, asked: str, horizon: float, slack: int = 1) -> float:
    """1 for an article of the day asked (or up to `slack` days after: time zones), falling to 0 over `horizon` days
    before it; 0 for a later or undated one, or when no day is asked."""
    try:
        age = (date.fromisoformat(asked) - date.fromisoformat(day)).days
    except ValueError:
        return 0.0
    return max(0.0, 1.0 - max(age, 0) / horizon) if age >= -slack and horizon > 0 else 0.0


def _after(day: str, days: int) -> str:
    """The date `days` after a day ("" when there is no day)."""
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat() if day else ""


def ordinal(rows: list[SentenceScore], order: str, days: dict[str, str], margin: float) -> str | None:
    """The newest article in the running (the oldest, for "first"): of the dated articles in `days`, those whose best
    sentence scores within `margin` of the best of them; the better one of a date two share. None when no order is asked
    or the running articles share one date."""
    if not order or not days:
        return None
    best: dict[str, float] = {}
    for r in rows:
        if r.doc_id in days:
            best[r.doc_id] = max(best.get(r.doc_id, r.total), r.total)
    top = max(best.values())
    running = [d for d in best if best[d] >= top - margin]
    if len({days[d] for d in running}) < 2:
        return None
    day = {d: (days[d] + "-01-01")[:10] for d in running}  # a year or a month alone as its first day, to sort
    if order == "first":
        return min(running, key=lambda d: (day[d], -best[d]))
    return max(running, key=lambda d: (day[d], best[d]))


def add_type_bonus(rows: list[SentenceScore], n_hits: int, tuning: Tuning) -> Scored:
    """Candidates best first, with the answer-type bonus; each passage's best sentence score.

    Holding the kind of answer asked for counts for more when few sentences do (a year, in a history).
    A sentence in two overlapping passages is one candidate."""
    share = sum(r.typed for r in rows) / len(rows) if rows else 0.0
    bonus = tuning.w_type * (1.0 - share) ** tuning.type_rarity
    seen: dict[tuple[str, int], SentenceScore] = {}
    best = [float("-inf")] * n_hits
    for r in rows:
        if r.typed:
            r = replace(r, type_bonus=bonus)
        best[r.hit] = max(best[r.hit], r.total)
        key = (r.doc_id, r.idx)
        if key not in seen or seen[key].total < r.total:
            seen[key] = r
    return Scored(sorted(seen.values(), key=lambda r: -r.total), best)


def rerank(hits: list[Hit], best: list[float], tuning: Tuning) -> list[Hit]:
    """The passages reordered by their retrieval score blended with their best sentence's score."""
    if not hits:
        return hits
    w = tuning.w_rerank
    top = max(h.score for h in hits) or 1.0
    keyed = [(-(1 - w) * h.score / top - w * (b if b > float("-inf") else 0.0), i) for i, (h, b) in enumerate(zip(hits, best))]
    return [hits[i] for _, i in sorted(keyed)]


def naming(art: ArticleFeatures, i: int, about: frozenset[str]) -> bool:
    """Sentence i names everything in `about` (index tokens; acronyms read as their long forms)."""
    return about <= art.expand(set(tokenize(art.sentence(i))))


def central(doc_id: str, retriever: Retriever, features: Features, n: int, about: frozenset[str] = frozenset()) -> list[SentenceScore]:
    """An article's n most central sentences (closest to the mean of its sentence vectors), in text order; only
    those naming `about` when some do (an overview of an organisation the article is not mainly about)."""
    import numpy as np

    art = features.get(doc_id)
    store = retriever.index.store
    vectors: dict[int, np.ndarray] = {}
    for pid, passage in sorted(store.passages(store.passage_ids_of(doc_id)).items()):
        for j, vec in enumerate(retriever.sentence_vectors(pid)):
            vectors.setdefault(passage.first_sentence + j, vec)  # a sentence two passages share: once
    if not vectors:
        return []
    matrix = np.stack(list(vectors.values()))
    sims = dict(zip(vectors, (matrix @ matrix.mean(axis=0)).tolist()))
    named = [i for i in sims if about and naming(art, i, about)]
    top = sorted(sorted(named or sims, key=lambda i: -sims[i])[:n])
    return [
        SentenceScore(doc_id, i, art.spans[i].start, art.spans[i].end, 0, 0.0, 0.0, 0.0, sims[i], 0.0, 0.0, False)
        for i in top
    ]


def timeline(sentences: list[SentenceScore], features: Features, tuning: Tuning, *, typed: bool = False,
             about: frozenset[str] = frozenset(), until: DateRange = DateRange()) -> tuple[SentenceScore, ...]:
    """Each dated article's best sentence near the best, in date order (articles dated in `until`: none later than the
    day asked); () unless two dates differ.

    Asked for a kind of answer (`typed`: "how has the number ... changed"), each entry is its article's best sentence
    holding one, and an article with none near the best is left out: a change is told by figures. Asked about a
    subject (`about`: "how has Cambridgeshire's rating moved"), only articles naming it count. Each narrowing holds
    only while it still leaves two dates."""
    if not sentences:
        return ()
    near = [s for s in sentences if s.total >= tuning.timeline_ratio * sentences[0].total
            and features.get(s.doc_id).date and _news_by(features.get(s.doc_id).day, until)]
    narrowed = [near]
    if about:
        naming_it = {d for d in {s.doc_id for s in near} if about <= features.get(d).expand(set(features.get(d).vocab))}
        narrowed.insert(0, [s for s in near if s.doc_id in naming_it])
    if typed:
        narrowed.insert(0, [s for s in narrowed[0] if s.typed])
    return next((entries for entries in (_dated(c, features, tuning) for c in narrowed) if entries), ())


def _news_by(day: str, until: DateRange) -> bool:
    """Whether an article of this day was news by the end of the range: dated in it, or by words no day can be read from
    ("Summer 2019": no day), which can't be shown to be later."""
    return not day or until.contains(day)


def _dated(sentences: list[SentenceScore], features: Features, tuning: Tuning) -> tuple[SentenceScore, ...]:
    """Each article's best sentence (best first), the strongest `timeline_items` in date order; () unless two dates differ."""
    best: dict[str, SentenceScore] = {}
    for s in sentences:
        best.setdefault(s.doc_id, s)
    entries = sorted(list(best.values())[: tuning.timeline_items], key=lambda s: features.get(s.doc_id).date)
    return tuple(entries) if len({features.get(s.doc_id).date for s in entries}) > 1 else ()
