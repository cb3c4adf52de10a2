"""Citing: choose the quotes, merge neighbours, and check each quote is the article's exact text."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from qa.answer.features import Features
from qa.answer.question import Question, find_names, name_words
from qa.answer.scoring import SentenceScore
from qa.answer.tuning import Tuning
from qa.copies import same_statement
from qa.lexical import tokenize

Place = tuple[str, int]  # (article, sentence index)
# a quotation mark opening what is said (a straight one at the start or after a space, bracket, colon or dash): the
# word after it is capitalised by grammar
_OPENING = re.compile(r"[‘“]|(?<![^\s(\[:—–-])\"")
_SELF = re.compile(r"I(?:['’](?:m|ve|d|ll))?")  # the speaker's own "I", "I’m": no one else


@dataclass(frozen=True)
class Source:
    """Another article saying what a quote says: its sentence's place, checked like a quote."""

    doc_id: str
    title: str
    date: str
    start: int
    end: int


@dataclass(frozen=True)
class Citation:
    """A verified quote: `quote == article.text[start:end]`, with context and scores."""

    n: int
    doc_id: str
    title: str
    date: str
    source: str
    start: int
    end: int
    quote: str
    context: str
    context_start: int
    score: float
    also_in: tuple[Source, ...] = ()  # other articles saying the same (copies of the story, one sentence each)


def choose(sentences: list[SentenceScore], features: Features, tuning: Tuning) -> list[SentenceScore]:
    """The best sentence, plus a few more that score nearly as well and say something new.

    A sentence much like one chosen is still kept when its article is of another date: two articles of
    different times saying it differently, both dates shown. One saying the same thing (a copy) is not
    quoted again: `corroborate` lists it with the quote."""
    if not sentences:
        return []
    chosen = [sentences[0]]
    words = [_words(sentences[0], features)]
    dates = {features.get(sentences[0].doc_id).date}
    for s in sentences[1:]:
        if len(chosen) >= tuning.max_quotes or s.total < tuning.second_quote_ratio * sentences[0].total:
            break
        if any(_same(s.doc_id, s.idx, c.doc_id, c.idx, features, tuning) for c in chosen):
            continue
        w = _words(s, features)
        date = features.get(s.doc_id).date
        if date and date not in dates and "" not in dates:
            dates.add(date)
        elif any(len(w & o) / max(len(w | o), 1) > tuning.duplicate_overlap for o in words):
            continue  # a near-duplicate of a sentence already quoted
        chosen.append(s)
        words.append(w)
    return chosen


def speaker_answers(q: Question, top: SentenceScore, features: Features) -> bool:
    """Whether the quote's speaker is the answer: asked who said it, or who did something ("Who held ... responsible?")
    of a quote naming nobody the question doesn't (else the quote may name who did it)."""
    if q.who_said:
        return True
    asked = {t for w in q.names for t in w.tokens}
    return q.who and all(t in asked for w in quote_names(features.get(top.doc_id).sentence(top.idx)) for t in tokenize(w))


def quote_names(sentence: str) -> list[str]:
    """The names a sentence gives: its capitalised words, each quoted part's first word and the speaker's own "I" aside
    (a name opening a quote is lost with them: "‘Doncaster has done brilliantly,’ he said.")."""
    parts = _OPENING.split(sentence)  # "He said: ‘Ratings ...": "Ratings" opens what is said
    return [w for part in parts for w in name_words(find_names(part.strip())) if not _SELF.fullmatch(w)]


def with_speaker(chosen: list[SentenceScore], features: Features, first: bool) -> list[SentenceScore]:
    """The chosen sentences plus the one naming the first quote's speaker when another sentence does
    ("He added: ..." after "Dr X said: ..."): first when the speaker is the answer (`speaker_answers`, also when it was
    chosen further down), else right after."""
    if not chosen:
        return chosen
    top = chosen[0]
    j = features.get(top.doc_id).speaker_sentence(top.idx)
    if j is None:
        return chosen
    held = next((k for k, s in enumerate(chosen) if s.doc_id == top.doc_id and s.idx == j), None)
    if held is not None:  # chosen already: moved first when it answers
        return [chosen[held], *chosen[:held], *chosen[held + 1:]] if first else chosen
    span = features.get(top.doc_id).spans[j]
    speaker = replace(top, idx=j, start=span.start, end=span.end)
    return [speaker, *chosen] if first else [top, speaker, *chosen[1:]]


def corroborate(chosen: list[SentenceScore], others: list[Place], features: Features, tuning: Tuning) -> dict[Place, list[Place]]:
    """For each chosen sentence, the sentences of other articles (among `others`) saying the same thing:
    one per article, in the order given."""
    out: dict[Place, list[Place]] = {}
    for c in chosen:
        found = out.setdefault((c.doc_id, c.idx), [])
        for doc, i in dict.fromkeys(others):
            if doc != c.doc_id and all(d != doc for d, _ in found) and _same(doc, i, c.doc_id, c.idx, features, tuning):
                found.append((doc, i))
    return out


def _same(doc_a: str, i: int, doc_b: str, j: int, features: Features, tuning: Tuning) -> bool:
    """Sentence i of one article says what sentence j of another says."""
    return doc_a != doc_b and same_statement(
        features.get(doc_a).sentence(i), features.get(doc_b).sentence(j), tuning.copy_overlap
    )


def _words(s: SentenceScore, features: Features) -> set[str]:
    return set(tokenize(features.get(s.doc_id).sentence(s.idx), keep_stopwords=True))


def cite(chosen: list[SentenceScore], features: Features, also: dict[Place, list[Place]] | None = None,
         tuning: Tuning | None = None) -> list[Citation]:
    """Adjacent sentences of one article merged into one quote, with the other articles saying the same
    (`also`, from `corroborate`); each citation and each of those places checked before it is kept."""
    tuning = tuning or Tuning()
    citations: list[Citation] = []
    for group in _adjacent_groups(chosen):
        art = features.get(group[0].doc_id)
        first, last = group[0].idx, group[-1].idx
        start, end = art.spans[first].start, art.spans[last].end
        lo = art.spans[max(first - 1, 0)].start
        hi = art.spans[min(last + 1, len(art.spans) - 1)].end
        c = Citation(
            n=len(citations) + 1, doc_id=art.doc_id, title=art.title, date=art.date, source=art.source,
            start=start, end=end, quote=art.text[start:end], context=art.text[lo:hi], context_start=lo,
            score=max(s.total for s in group),
            also_in=_sources([(p, s) for s in group for p in (also or {}).get((s.doc_id, s.idx), [])], features, tuning),
        )
        if verify(c, art.text):
            citations.append(c)
    return citations


def _sources(places: list[tuple[Place, SentenceScore]], features: Features, tuning: Tuning) -> tuple[Source, ...]:
    """Each other article once, as a Source whose offsets are its sentence's exact span, kept only when that
    text, read again from the article, says what the quoted sentence it matched says."""
    out: dict[str, Source] = {}
    for (doc, i), quoted in places:
        art = features.get(doc)
        span = art.spans[i]
        if doc not in out and _same(doc, i, quoted.doc_id, quoted.idx, features, tuning):
            out[doc] = Source(doc, art.title, art.date, span.start, span.end)
    return tuple(out.values())


def _adjacent_groups(chosen: list[SentenceScore]) -> list[list[SentenceScore]]:
    """The chosen sentences grouped where they are neighbours in one article, each group in text order."""
    groups: list[list[SentenceScore]] = []
    for s in chosen:
        for g in groups:
            if g[0].doc_id == s.doc_id and any(abs(x.idx - s.idx) == 1 for x in g):
                g.append(s)
                break
        else:
            groups.append([s])
    return [sorted(g, key=lambda s: s.idx) for g in groups]


def verify(citation: Citation, article_text: str) -> bool:
    """The exact-quote check every citation passes before it is shown."""
    return (
        0 <= citation.start < citation.end <= len(article_text)
        and article_text[citation.start:citation.end] == citation.quote
        and article_text[citation.context_start:citation.context_start + len(citation.context)] == citation.context
    )


def compose(citations: list[Citation]) -> str:
    """The answer's text: each quote on one line of spaces, followed by its [n] marker."""
    return " ".join(f"{' '.join(c.quote.split())} [{c.n}]" for c in citations)
