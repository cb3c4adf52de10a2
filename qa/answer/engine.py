"""The answer engine: a question in, an answer quoted from the articles (or an honest abstention) out."""

from __future__ import annotations

import datetime
import time
from dataclasses import asdict, dataclass, field, replace

from qa.answer.abstention import Decision, decide
from qa.answer.citation import Citation, choose, cite, compose, corroborate, speaker_answers, with_speaker
from qa.answer.features import Features, article_date, within
from qa.answer.question import Question, understand
from qa.answer.reader import Reader
from qa.answer.scoring import Scored, central, naming, rerank, score_passages, timeline, up_to
from qa.answer.short import ShortAnswer, short_answer
from qa.answer.spelling import Speller
from qa.answer.tuning import Tuning
from qa.copies import collapse
from qa.dates import DateRange, day_of, parse_day
from qa.messages import NO_ANSWER, overview
from qa.retrieve import Hit, Retriever


@dataclass(frozen=True)
class RankedPassage:
    """A retrieved passage as reported with an answer (for "related reading" and evaluation)."""

    doc_id: str
    title: str
    start: int
    end: int
    score: float
    text: str
    date: str = ""
    copies: tuple["RankedPassage", ...] = ()  # the same passage in other articles (syndicated copies), folded in


@dataclass(frozen=True)
class Retrieved:
    """The passages found for a question, each story once: copies of a passage in other articles folded
    into it (by the kept passage's id)."""

    hits: list[Hit]
    copies: dict[int, tuple[Hit, ...]] = field(default_factory=dict)


@dataclass
class Answer:
    """An answer made of quotes with [n] markers, or an abstention with related passages."""

    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[RankedPassage] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    confidence: float = 0.0
    kind: str = "answer"  # "answer", "timeline" (dated quotes in date order), "overview" or "abstention"
    short_answer: ShortAnswer | None = None  # the span of the first quote that answers, verified (qa.answer.short)
    asked: str = ""  # the day it was asked on ("2022-07-08"): "this week", "the latest" and a timeline were read against it

    def to_json(self) -> dict:
        """The `qa ask --json` shape."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "kind": self.kind,
            "asked": self.asked,
            "confidence": round(self.confidence, 4),
            "short_answer": self.short_answer.to_json() if self.short_answer else None,
            "citations": [
                {k: v for k, v in asdict(c).items() if k != "context_start"} | {"score": round(c.score, 4)}
                for c in self.citations
            ],
            "passages": [
                {"doc_id": p.doc_id, "start": p.start, "end": p.end, "score": round(p.score, 4),
                 "also_in": [{"doc_id": c.doc_id, "start": c.start, "end": c.end} for c in p.copies]}
                for p in self.passages
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


def asked_day(asked: str = "") -> str:
    """The day a question is asked on, checked ("2022-07-08"), or today's; DateError when it is not a date."""
    return parse_day(asked, "the day asked") if asked else datetime.date.today().isoformat()


class Engine:
    """Answers questions from a loaded index: understand, retrieve, score sentences, decide, cite, compose."""

    def __init__(self, retriever: Retriever, tuning: Tuning | None = None, max_question_chars: int = 2000,
                 reader: Reader | None = None) -> None:
        self.retriever = retriever
        self.reader = reader  # the short answer's span finder (qa.answer.reader); None: the linear span scorer
        self.store = retriever.index.store
        self.tuning = tuning or Tuning()
        self.max_question_chars = max_question_chars
        self.features = Features(self.store)
        self._dates: dict[str, str] | None = None  # each article's date, read on the first date filter
        self._later: tuple[str, frozenset[str]] = ("", frozenset())  # the last day asked and the articles dated after it
        self._days: dict[str, str] | None = None  # each article's day (qa.dates.day_of of its date), read once
        self.speller = Speller(retriever.index.lexical, self.tuning.spell_max_edits, self.tuning.spell_short)

    def ask(self, question: str, history: list | None = None, mode: str = "hybrid", report_k: int = 10,
            dates: DateRange = DateRange(), asked: str = "") -> Answer:
        """Answer one question from the articles in `dates`, asked on the day `asked` ("2022-07-08"; "": today), using
        earlier turns to resolve follow-ups; report the top report_k passages."""
        clock = _Clock()
        q = replace(self.understand(question, history), asked=asked_day(asked))  # 1. the question, read once
        clock.restart()
        found = self.retrieve(q, mode, report_k, dates, as_of=bool(asked))  # 2. passages, BM25 and dense fused, each story once
        hits = found.hits
        clock.lap("retrieve")
        scored = self.score(q, hits)  # 3. every sentence of the best passages, scored
        decision = self.decide(q, scored, hits, mode)  # 4. answer or abstain
        citations = self.cite(scored, q, found) if decision.answers else []  # 5. the quotes, each checked
        ranked = rerank(hits[: self.tuning.k_passages], scored.best, self.tuning) + hits[self.tuning.k_passages:]
        clock.lap("select")
        kind = self.form(q, scored) if citations else "abstention"
        short = self.short(q, citations[0]) if kind == "answer" else None  # 6. the span that answers, checked
        clock.lap("short")
        passages = self.report(ranked[:report_k], found.copies)
        clock.lap("report")
        return Answer(  # 7. the answer, with the passages it read
            question=q.text, answer=self.compose(citations, kind), abstained=not citations, kind=kind, short_answer=short,
            citations=citations, passages=passages, timings_ms=clock.timings(), confidence=decision.confidence, asked=q.asked,
        )

    def understand(self, question: str, history: list | None = None) -> Question:
        """The question as every later stage reads it, misspelt words read as meant (QuestionError when empty or too long)."""
        q = understand(question, history, self.max_question_chars)
        fixed = self.speller.correct(q.text)
        return q if fixed == q.text else replace(understand(fixed, history, self.max_question_chars), text=q.text, read_text=fixed)

    def retrieve(self, q: Question, mode: str = "hybrid", report_k: int = 10, dates: DateRange = DateRange(),
                 as_of: bool = False) -> Retrieved:
        """The best passages for the question from the articles in `dates` (`as_of`, asked on a day given: none dated
        after it), enough to score and to report, each story once: a copy of a better passage in another article is
        folded into it, not given a place of its own."""
        return self.search(q.query, max(self.tuning.k_passages, report_k), mode, dates, q.asked if as_of else "")

    def search(self, query: str, k: int = 10, mode: str = "hybrid", dates: DateRange = DateRange(),
               asked: str = "") -> Retrieved:
        """The k best passages for a query from the articles in `dates` (and none dated after the day `asked`), each story
        once (`qa search`)."""
        skip = (self.outside(dates) if dates.active else frozenset()) | self.later(asked)
        hits = self.retriever.search(query, k=2 * k, mode=mode, skip_docs=skip)  # room for copies folded away
        kept, copies = collapse(hits, self.tuning.copy_passage_overlap, self.tuning.copy_passage_size)
        return Retrieved(kept[:k], copies)

    def outside(self, dates: DateRange) -> frozenset[str]:
        """The articles whose date is not in the range (undated ones included)."""
        return frozenset(d for d, date in self.article_dates().items() if not dates.contains(date))

    def later(self, asked: str) -> frozenset[str]:
        """The articles dated after the day asked (by more than `day_slack` days: time zones): not news yet on that day.
        An article whose date can't be read as a day stays ("Summer 2019" can't be shown to be later)."""
        if not asked:
            return frozenset()
        if self._later[0] != asked:
            until = up_to(asked, self.tuning)
            if self._days is None:
                self._days = {d: day_of(date) for d, date in self.article_dates().items()}
            self._later = (asked, frozenset(d for d, day in self._days.items() if day and not until.contains(day)))
        return self._later[1]

    def article_dates(self) -> dict[str, str]:
        """Each article's date (its metadata's, or one its headline gives), read once."""
        if self._dates is None:
            self._dates = {a.doc_id: article_date(a.date, a.title) for a in self.store.listing()}
        return self._dates

    def score(self, q: Question, hits: list[Hit]) -> Scored:
        """Every sentence of the top passages scored, best first; for a two-part question, each part's best too."""
        top = hits[: self.tuning.k_passages]
        scored = score_passages(q, top, self.retriever, self.features, self.tuning)
        if q.timeline:
            entries = timeline(scored.sentences, self.features, self.tuning, typed=q.kind is not None, about=q.subject,
                               until=up_to(q.asked, self.tuning))
            scored = replace(scored, timeline=entries)
        if not q.parts or not scored.sentences:
            return scored
        # each part read on its own, carrying the question's names when it refers back ("where must it improve")
        parts = [score_passages(self._part(p, q), top, self.retriever, self.features, self.tuning).sentences
                 for p in q.parts]
        return replace(scored, parts=tuple(p[0] for p in parts if p))

    def _part(self, part: str, q: Question) -> Question:
        """One part of a two-part question, read with the question's day and time words ("this week", "the latest")."""
        p = understand(part, [q.text], self.max_question_chars)
        return replace(p, asked=q.asked, recent=p.recent or q.recent, order=p.order or q.order)

    def decide(self, q: Question, scored: Scored, hits: list[Hit], mode: str = "hybrid") -> Decision:
        """Whether to answer, and how sure (the abstention policy is `qa.answer.abstention.decide`)."""
        vocab = self.retriever.index.lexical.vocab
        return decide(q, scored, hits[: self.tuning.k_passages], mode, vocab, self.features, self.tuning)

    def cite(self, scored: Scored, q: Question | None = None, found: Retrieved | None = None) -> list[Citation]:
        """The chosen sentences as verified citations, with the sentence naming the first quote's speaker and
        the other articles saying the same; for an open request, the best article's most central sentences."""
        form = self.form(q, scored) if q is not None else "answer"
        if form == "timeline":
            return cite(list(scored.timeline), self.features)
        if form == "overview":
            doc, about = self._overview_article(q, scored), q.subject
            return cite(central(doc, self.retriever, self.features, self.tuning.overview_sentences, about), self.features)
        chosen = choose(scored.sentences, self.features, self.tuning)
        chosen += [p for p in dict.fromkeys(scored.parts) if (p.doc_id, p.idx) not in {(c.doc_id, c.idx) for c in chosen}]
        chosen = with_speaker(chosen, self.features, bool(q and chosen and speaker_answers(q, chosen[0], self.features)))
        also = corroborate(chosen, self.others(scored, found), self.features, self.tuning)
        return cite(chosen, self.features, also, self.tuning)

    @staticmethod
    def others(scored: Scored, found: Retrieved | None) -> list[tuple[str, int]]:
        """Where another article may say what a quote says: every scored sentence, then the copies' sentences."""
        places = [(s.doc_id, s.idx) for s in scored.sentences]
        for copies in (found.copies.values() if found else ()):
            places += [(h.doc_id, i) for h in copies for i in range(h.passage.first_sentence, h.passage.last_sentence)]
        return places

    def short(self, q: Question, first: Citation) -> ShortAnswer | None:
        """The short answer from the first quote, verified against its article's text (None when unsure)."""
        return short_answer(q, first, self.features.get(first.doc_id).text, self.tuning, self.reader)

    def _overview_article(self, q: Question, scored: Scored) -> str:
        """The article an open request is about: the best one of a time it names (its date or headline within it, as the
        time bonus reads them), or else the best naming what it asks about, or else the best sentence's."""
        dated = [s.doc_id for s in scored.sentences if q.scope and within(q.scope, self.features.get(s.doc_id).periods)]
        about = q.subject
        named = [s.doc_id for s in scored.sentences if about and naming(self.features.get(s.doc_id), s.idx, about)]
        return (dated or named or [scored.sentences[0].doc_id])[0]

    @staticmethod
    def compose(citations: list[Citation], kind: str) -> str:
        """The answer's text: the quotes with their markers (an overview says it is one; a timeline is a dated
        list), or the abstention."""
        if kind == "abstention":
            return NO_ANSWER
        if kind == "timeline":
            return "\n".join(f"{c.date}: {compose([c])}" for c in citations)
        return f"{overview(citations[0].title)} {compose(citations)}" if kind == "overview" else compose(citations)

    @staticmethod
    def form(q: Question, scored: Scored) -> str:
        """The answer's form: "timeline" (a question about change, with dated articles), "overview" (an open
        request) or "answer"."""
        if scored.timeline:
            return "timeline"
        return "overview" if q.open and scored.sentences else "answer"

    def report(self, hits: list[Hit], copies: dict[int, tuple[Hit, ...]] | None = None) -> list[RankedPassage]:
        """The passages as reported with the answer, each with its copies in other articles."""
        def ranked(h: Hit, folded: tuple[Hit, ...] = ()) -> RankedPassage:
            art = self.features.get(h.doc_id)
            return RankedPassage(h.doc_id, art.title, h.passage.start, h.passage.end, h.score, h.passage.text, art.date,
                                 tuple(ranked(c) for c in folded))

        return [ranked(h, (copies or {}).get(h.passage.id, ())) for h in hits]


class _Clock:
    """Milliseconds per stage, and in all."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def restart(self) -> None:
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = (now - self.last) * 1000
        self.last = now

    def timings(self) -> dict[str, float]:
        return {**self.laps, "total": (time.perf_counter() - self.start) * 1000}
