"""Cited answers: pick the articles' own sentences that answer a question, or abstain honestly."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from qa.errors import QuestionError
from qa.lexical import tokenize
from qa.retrieve import Hit, Retriever

WHY = re.compile(r"^\s*(why|how come|what (caused|led|happened|was the reason))\b|\breasons?\b", re.I)
CAUSAL = re.compile(
    r"\b(because|due to|owing to|as a result|result(ed)? in|led to|reflects?|"
    r"caused?|reasons?|so that|in order to)\b",
    re.I,
)
ANAPHOR = re.compile(r"\b(it|its|it's|they|them|their|theirs|he|him|his|she|her|hers|this|that|these|those|there|the same)\b", re.I)
NUMBER_Q = re.compile(r"^\s*(how many|how much|what (number|percentage|proportion|share))\b", re.I)
NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|half|dozen)\b", re.I)
WHO_Q = re.compile(r"^\s*(who|whom|whose)\b", re.I)
WHEN_Q = re.compile(r"^\s*(when|what (date|day|month|year|time))\b|\bwhat year\b", re.I)
PERSON = re.compile(r"\b(?:Dr |Mr |Mrs |Ms |Sir |Dame )?[A-Z][a-z]+(?: [A-Z]\.)? [A-Z][a-z]+(?:-[A-Z][a-z]+)?\b")
DATE = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b|"
    r"\b(1[5-9]\d\d|20\d\d)\b|\b(century|decade|year)\b"
)
QUESTION_WORDS = frozenset("what which who whom whose when where why how is are was were do does did can could will would".split())


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


@dataclass(frozen=True)
class RankedPassage:
    doc_id: str
    title: str
    start: int
    end: int
    score: float
    text: str


@dataclass
class Answer:
    """An answer made of quotes with [n] markers, or an abstention with related passages."""

    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[RankedPassage] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    query: str = ""
    confidence: float = 0.0

    def to_json(self) -> dict:
        """The `qa ask --json` shape."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "citations": [
                {k: v for k, v in asdict(c).items() if k != "context_start"} | {"score": round(c.score, 4)}
                for c in self.citations
            ],
            "passages": [
                {"doc_id": p.doc_id, "start": p.start, "end": p.end, "score": round(p.score, 4)} for p in self.passages
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


@dataclass(frozen=True)
class Candidate:
    doc_id: str
    idx: int
    start: int
    end: int
    score: float
    passage_score: float
    overlap: float


@dataclass(frozen=True)
class Tuning:
    """Weights of the sentence score and the abstention threshold (calibrated on question sets)."""

    k_passages: int = 6
    w_passage: float = 0.1
    w_overlap: float = 0.55
    w_dense: float = 0.35
    w_causal: float = 0.08
    w_number: float = 0.08
    max_quotes: int = 3
    second_quote_ratio: float = 0.80
    abstain_below: float = 0.42
    w_context: float = 0.3
    w_type: float = 0.08
    w_stale: float = 0.15
    title_weight: float = 1.0


def normalise_question(question: str, max_chars: int) -> str:
    """Strip controls and extra spaces; QuestionError when empty or too long."""
    from qa.clean import strip_controls

    text = " ".join(strip_controls(question).split())
    if not text or not re.search(r"\w", text):
        raise QuestionError("the question is empty: type a question, e.g. \"why was North Derbyshire rated inadequate?\"")
    if len(text) > max_chars:
        raise QuestionError(f"the question is {len(text)} characters long; the limit is {max_chars}: shorten it")
    return text


def history_questions(history: list) -> list[str]:
    """Earlier questions, oldest first, from strings or {"question", "answer"} objects."""
    out = []
    for turn in history or []:
        if isinstance(turn, str):
            out.append(turn)
        elif isinstance(turn, dict) and isinstance(turn.get("question"), str):
            out.append(turn["question"])
    return [q for q in out if q.strip()]


def _entities(text: str) -> list[str]:
    """Capitalised names in a question (multi-word runs kept together), e.g. 'Cambridgeshire and Peterborough'."""
    found = re.findall(r"(?<!^)(?<![.?!]\s)\b([A-Z][\w’'&-]*(?:\s+(?:and|of|&)?\s*[A-Z][\w’'&-]*)*)", text)
    return [f for f in found if f.lower() not in {"i", "ccg", "ccgs", "nhs", "what", "who", "why", "how", "when", "which", "where"}]


def unknown_names(question: str, vocab: dict) -> list[str]:
    """Names and numbers in the question that no article uses (e.g. 'Manchester'): nothing to quote."""
    out = []
    words = re.findall(r"[\w’'/-]+", question)
    for pos, word in enumerate(words):
        is_name = word[:1].isupper() and (pos > 0 or word.lower() not in QUESTION_WORDS)
        is_number = bool(re.fullmatch(r"\d{2,}", word))
        if not (is_name or is_number) or word.lower() in QUESTION_WORDS:
            continue
        toks = tokenize(word)
        if toks and all(t not in vocab for t in toks):
            out.append(word)
    return out


def contextual_query(question: str, history: list) -> str:
    """The question, completed from earlier turns when it refers back to them ("its chief officer")."""
    earlier = history_questions(history)
    if not earlier:
        return question
    names_now = _entities(question)
    if names_now and not ANAPHOR.search(question):
        return question
    for prev in reversed(earlier):
        names = _entities(prev)
        if names:
            return question + " " + " ".join(names)
    return question + " " + earlier[-1]


class Engine:
    """Answers questions from a loaded index: retrieve passages, score their sentences, quote the best."""

    def __init__(self, retriever: Retriever, tuning: Tuning | None = None, max_question_chars: int = 2000) -> None:
        self.retriever = retriever
        self.store = retriever.index.store
        self.tuning = tuning or Tuning()
        self.max_question_chars = max_question_chars

    def ask(self, question: str, history: list | None = None, mode: str = "hybrid", report_k: int = 10) -> Answer:
        """Answer one question, using earlier turns to resolve follow-ups; report the top report_k passages."""
        t_start = time.perf_counter()
        question = normalise_question(question, self.max_question_chars)
        query = contextual_query(question, history or [])
        t0 = time.perf_counter()
        ranked_hits = self.retriever.search(query, k=max(self.tuning.k_passages, report_k), mode=mode)
        hits = ranked_hits[: self.tuning.k_passages]
        t_retrieve = time.perf_counter() - t0
        t0 = time.perf_counter()
        candidates, confidence = self._score(question, query, hits)
        chosen = self._choose(candidates)
        abstained = not chosen or confidence < self.tuning.abstain_below
        citations = [] if abstained else self._cite(chosen)
        if not citations:
            abstained = True
        ranked = [
            RankedPassage(h.doc_id, self.store.article(h.doc_id).title, h.passage.start, h.passage.end, h.score, h.passage.text)
            for h in ranked_hits[:report_k]
        ]
        text = self._compose(citations) if not abstained else "The articles don't say."
        timings = {
            "retrieve": t_retrieve * 1000,
            "select": (time.perf_counter() - t0) * 1000,
            "total": (time.perf_counter() - t_start) * 1000,
        }
        return Answer(question, text, abstained, citations, ranked, timings, query, confidence)

    # --- scoring -------------------------------------------------------------------------
    def _score(self, question: str, query: str, hits: list[Hit]) -> tuple[list[Candidate], float]:
        tun = self.tuning
        if not hits:
            return [], 0.0
        lex = self.retriever.index.lexical
        q_own = set(tokenize(question))
        q_tokens = list(dict.fromkeys(tokenize(query)))
        max_idf = max([lex.idf(t) for t in q_tokens] + [1.0])
        # a word the corpus never uses weighs like the rarest word it has: it is probably the point;
        # words brought in from earlier turns steer retrieval but count for less in choosing sentences
        base = {t: (lex.idf(t) if t in lex.vocab else max_idf * 1.2) for t in q_tokens}
        weights = {t: w * (1.0 if t in q_own else tun.w_context) for t, w in base.items()}
        own_total = sum(base[t] for t in q_own if t in base) or 1.0
        total = sum(weights.values()) or 1.0
        top_score = max(h.score for h in hits) or 1.0
        seen: dict[tuple[str, int], Candidate] = {}
        coverage: dict[tuple[str, int], float] = {}
        why = bool(WHY.search(question))
        numeric = bool(NUMBER_Q.search(question))
        who = bool(WHO_Q.search(question))
        when = bool(WHEN_Q.search(question))
        for hit in hits:
            spans = self.store.sentences(hit.doc_id)
            article = self.store.article(hit.doc_id)
            text = article.text
            # the headline's words hold for every sentence of the article (its year, its CCG)
            context = set(tokenize(article.title)) if tun.title_weight else set()
            sims = self.retriever.sentence_scores(query, hit.passage.id) if tun.w_dense else None
            for i in range(hit.passage.first_sentence, hit.passage.last_sentence):
                key = (hit.doc_id, i)
                if key in seen and seen[key].passage_score >= hit.score / top_score:
                    continue
                s = spans[i]
                sent = text[s.start:s.end]
                own_toks = set(tokenize(sent))
                toks = own_toks | context
                # a headline word counts for part of its weight: it sets the scene, the sentence answers
                credit = {t: 1.0 if t in own_toks else tun.title_weight for t in toks}
                overlap = sum(w * credit[t] for t, w in weights.items() if t in toks) / total
                coverage[key] = sum(base[t] for t in q_own if t in toks and t in base) / own_total
                pscore = hit.score / top_score
                score = tun.w_passage * pscore + tun.w_overlap * overlap
                if sims is not None:
                    score += tun.w_dense * float(sims[i - hit.passage.first_sentence])
                if why and CAUSAL.search(sent):
                    score += tun.w_causal
                if numeric and NUMBER.search(sent):
                    score += tun.w_number
                if who and any(m.group(0).lower() not in question.lower() for m in PERSON.finditer(sent)):
                    score += tun.w_type
                if when and DATE.search(sent):
                    score += tun.w_type
                new = own_toks - set(q_tokens) - context
                if len(new) < 2:  # says nothing the question doesn't (a headline restating it)
                    score -= tun.w_stale
                seen[key] = Candidate(hit.doc_id, i, s.start, s.end, score, pscore, overlap)
        cands = sorted(seen.values(), key=lambda c: -c.score)
        best_dense = max(h.dense for h in hits)
        cover = max(coverage[(c.doc_id, c.idx)] for c in cands[:3])
        has_dense = any(h.dense for h in hits)
        # without dense retrieval (bm25 mode) coverage alone speaks, scaled to the same threshold
        confidence = 0.6 * cover + 0.4 * max(best_dense, 0.0) if has_dense else 0.8 * cover
        if unknown_names(question, lex.vocab):
            confidence = 0.0
        return cands, confidence

    def _choose(self, cands: list[Candidate]) -> list[Candidate]:
        """The best sentence, plus up to two more that score nearly as well and say something new."""
        if not cands:
            return []
        tun = self.tuning
        chosen = [cands[0]]
        words = [set(tokenize(self._text(cands[0]), keep_stopwords=True))]
        for c in cands[1:]:
            if len(chosen) >= tun.max_quotes or c.score < tun.second_quote_ratio * cands[0].score:
                break
            w = set(tokenize(self._text(c), keep_stopwords=True))
            if any(len(w & o) / max(len(w | o), 1) > 0.6 for o in words):
                continue  # a near-duplicate of a sentence already quoted
            chosen.append(c)
            words.append(w)
        return chosen

    def _text(self, c: Candidate) -> str:
        return self.store.article(c.doc_id).text[c.start:c.end]

    # --- citing --------------------------------------------------------------------------
    def _cite(self, chosen: list[Candidate]) -> list[Citation]:
        """Merge adjacent sentences of one article, then build citations that pass the exact-quote check."""
        groups: list[list[Candidate]] = []
        for c in chosen:
            for g in groups:
                if g[0].doc_id == c.doc_id and any(abs(x.idx - c.idx) == 1 for x in g):
                    g.append(c)
                    break
            else:
                groups.append([c])
        citations: list[Citation] = []
        for g in groups:
            g.sort(key=lambda c: c.idx)
            doc_id = g[0].doc_id
            art = self.store.article(doc_id)
            start, end = g[0].start, g[-1].end
            quote = art.text[start:end]
            spans = self.store.sentences(doc_id)
            lo = spans[max(g[0].idx - 1, 0)].start
            hi = spans[min(g[-1].idx + 1, len(spans) - 1)].end
            cite = Citation(
                n=len(citations) + 1, doc_id=doc_id, title=art.title, date=art.date, source=art.source,
                start=start, end=end, quote=quote, context=art.text[lo:hi], context_start=lo,
                score=max(c.score for c in g),
            )
            if verify(cite, art.text):
                citations.append(cite)
        return citations

    @staticmethod
    def _compose(citations: list[Citation]) -> str:
        return " ".join(f"{' '.join(c.quote.split())} [{c.n}]" for c in citations)


def open_engine(cfg) -> Engine:
    """The engine over cfg's built index with cfg's model: the one way CLI, chat and benchmarks make it."""
    from qa.embed import get_embedder
    from qa.retrieve import open_index

    return Engine(Retriever(open_index(cfg), get_embedder(cfg.model)), max_question_chars=cfg.max_question_chars)


def verify(citation: Citation, article_text: str) -> bool:
    """The exact-quote check every citation passes before it is shown."""
    return (
        0 <= citation.start < citation.end <= len(article_text)
        and article_text[citation.start:citation.end] == citation.quote
        and article_text[citation.context_start:citation.context_start + len(citation.context)] == citation.context
    )
