"""`qa eval`: score retrieval, answers and abstention against a question set, with baselines."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from qa.dates import DateRange, parse_bound, parse_day
from qa.errors import DateError, EvalError

METRICS = (
    "hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10", "answer_first", "answer_any", "answer_match",
    "citation_precision", "abstain_precision", "abstain_recall", "short_em", "short_f1", "latency_ms_p50", "latency_ms_p95",
)
LOWER_IS_BETTER = {"latency_ms_p50", "latency_ms_p95"}


@dataclass(frozen=True)
class Question:
    """One line of a question set."""

    id: str
    question: str
    doc_ids: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    unanswerable: bool = False
    history: tuple = ()
    dates: DateRange = DateRange()  # "since" / "until": answer only from articles of those dates
    asked: str = ""  # the day it was asked on ("2022-07-08"): "this week", "the latest" are read against it; "": today


def norm(text: str) -> str:
    """Lower case, straight quotes, single spaces: how evidence and answers are matched."""
    text = text.lower()
    for a, b in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("–", "-"), ("—", "-")):
        text = text.replace(a, b)
    return " ".join(text.split())


def _str_list(value: object, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EvalError(f"{where}: '{key}' must be a list of strings, e.g. [\"...\"]")
    return tuple(value)


def parse_question(obj: object, where: str) -> Question:
    """A Question from one decoded JSON line; EvalError starting with `where` (file and line) when a field is wrong."""
    if not isinstance(obj, dict):
        raise EvalError(f"{where}: expected a JSON object")
    for key in ("id", "question"):
        if key not in obj:
            raise EvalError(f"{where}: missing required field '{key}'")
    if not isinstance(obj["question"], str) or not obj["question"].strip():
        raise EvalError(f"{where}: 'question' must be a non-empty string")
    history = obj.get("history") or []
    if not isinstance(history, list):
        raise EvalError(f"{where}: 'history' must be a list")
    return Question(
        id=str(obj["id"]), question=obj["question"], doc_ids=_str_list(obj.get("doc_ids"), where, "doc_ids"),
        evidence=_str_list(obj.get("evidence"), where, "evidence"), answers=_str_list(obj.get("answers"), where, "answers"),
        unanswerable=bool(obj.get("unanswerable", False)), history=tuple(history), dates=_dates(obj, where),
        asked=_asked(obj, where),
    )


def _asked(obj: dict, where: str) -> str:
    """The day the question was asked on ("asked": "2022-07-08"), or ""; EvalError when it is not a date."""
    value = obj.get("asked")
    if value is None:
        return ""
    try:
        return parse_day(str(value), "'asked'")
    except DateError as exc:
        raise EvalError(f"{where}: {exc}") from None


def _dates(obj: dict, where: str) -> DateRange:
    """The question's date filter ("since", "until": a year, a year-month or a date); EvalError when malformed."""
    bounds = {}
    for key in ("since", "until"):
        value = obj.get(key)
        if value is None:
            continue
        try:
            bounds[key] = parse_bound(str(value), f"'{key}'")
        except DateError as exc:
            raise EvalError(f"{where}: {exc}") from None
    return DateRange(**bounds)


def text_lines(path: Path) -> Iterator[tuple[str, str]]:
    """(`FILE line N`, text) for each line of a UTF-8 file; EvalError naming the file and line it can't read."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise EvalError(f"cannot read {path} ({exc.strerror})") from exc
    with fh:
        for line_no, raw in enumerate(fh, 1):
            where = f"{path} line {line_no}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise EvalError(f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})") from exc
            yield where, line.lstrip("\ufeff") if line_no == 1 else line


def json_lines(path: Path) -> Iterator[tuple[str, object]]:
    """(`FILE line N`, decoded object) for each non-blank line; EvalError naming the file and line."""
    for where, line in text_lines(path):
        if not line.strip():
            continue
        try:
            yield where, json.loads(line)
        except ValueError as exc:
            raise EvalError(f"{where}: not valid JSON ({getattr(exc, 'msg', exc)})") from exc


def read_jsonl(path: Path, limit: int | None = None) -> Iterator[Question]:
    """Questions from a JSONL file, streamed; EvalError with the file and line number on a bad line."""
    seen: set[str] = set()
    for n, (where, obj) in enumerate(json_lines(path), 1):
        q = parse_question(obj, where)
        if q.id in seen:
            raise EvalError(f"{where}: duplicate id {q.id!r}")
        seen.add(q.id)
        yield q
        if limit and n >= limit:
            return


# --- BEIR ------------------------------------------------------------------------------------

def read_beir(folder: Path, limit: int | None = None) -> Iterator[Question]:
    """Questions from a BEIR folder (queries.jsonl and qrels/test.tsv); document ids are corpus ids."""
    qrels: dict[str, list[str]] = {}
    for i, (where, line) in enumerate(text_lines(folder / "qrels" / "test.tsv")):
        parts = line.rstrip("\r\n").split("\t")
        if i == 0 and parts and parts[0] == "query-id":
            continue
        if len(parts) < 3 or not re.fullmatch(r"-?\d+(\.\d+)?", parts[2].strip()):
            raise EvalError(f"{where}: expected query-id, corpus-id, score")
        if float(parts[2]) > 0:
            qrels.setdefault(parts[0], []).append(beir_doc_id(parts[1]))
    n = 0
    for where, obj in json_lines(folder / "queries.jsonl"):
        if not isinstance(obj, dict):
            raise EvalError(f"{where}: expected a JSON object")
        qid = str(obj.get("_id", ""))
        if qid not in qrels:
            continue
        yield Question(id=qid, question=str(obj.get("text", "")), doc_ids=tuple(qrels[qid]))
        n += 1
        if limit and n >= limit:
            return


def beir_doc_id(corpus_id: str) -> str:
    return re.sub(r"[^\w.-]", "_", corpus_id)


def beir_corpus(folder: Path, cache_root: Path) -> Path:
    """The BEIR corpus.jsonl written out as one .txt article per document (cached by content)."""
    src = folder / "corpus.jsonl"
    try:
        digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    except OSError as exc:
        raise EvalError(f"cannot read {src} ({exc.strerror})") from exc
    out = cache_root / f"beir-{digest}"
    if (out / ".complete").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for where, doc in json_lines(src):
        if not isinstance(doc, dict) or "_id" not in doc:
            raise EvalError(f"{where}: expected a JSON object with an '_id'")
        title, text = doc.get("title") or "", doc.get("text") or ""
        body = f"{title}\n\n{text}" if title else text
        (out / f"{beir_doc_id(str(doc['_id']))}.txt").write_text(body, encoding="utf-8")
    (out / ".complete").write_text("")
    return out


def load_questions(path: Path, limit: int | None = None) -> Iterator[Question]:
    """Questions from a JSONL file or a BEIR folder."""
    if path.is_dir():
        if not (path / "queries.jsonl").exists():
            raise EvalError(f"{path} is a folder but not a BEIR dataset (no queries.jsonl)")
        return read_beir(path, limit)
    if not path.exists():
        raise EvalError(f"{path}: no such question set")
    return read_jsonl(path, limit)


def read_question_set(path: Path, limit: int | None = None) -> list[Question]:
    """Every question of a set, read and checked before any work; EvalError when there are none."""
    questions = list(load_questions(path, limit))
    if not questions:
        raise EvalError(f"no questions in {path}")
    return questions


# --- scoring ---------------------------------------------------------------------------------

def squad_norm(text: str) -> str:
    """SQuAD's answer normalisation: lower case, punctuation and the articles a/an/the dropped, single spaces."""
    text = "".join(ch for ch in norm(text) if ch not in _PUNCT)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~‘’“”–—£€")


def short_scores(got: str | None, answers: tuple[str, ...]) -> tuple[float, float]:
    """(exact match, F1) of a short answer against the best gold answer, SQuAD's way; no answer scores 0."""
    if not got or not answers:
        return 0.0, 0.0
    best_em, best_f1 = 0.0, 0.0
    mine = squad_norm(got).split()
    for gold in answers:
        theirs = squad_norm(gold).split()
        best_em = max(best_em, float(mine == theirs))
        common = sum((Counter(mine) & Counter(theirs)).values())
        if common:
            p, r = common / len(mine), common / len(theirs)
            best_f1 = max(best_f1, 2 * p * r / (p + r))
    return best_em, best_f1


def contains_any(text: str, needles: tuple[str, ...]) -> bool:
    t = norm(text)
    return any(norm(n) and norm(n) in t for n in needles)


def evidence_match(text: str, evidence: tuple[str, ...]) -> bool:
    """The text holds an evidence string, or is itself a long part of one (a sentence split differently)."""
    t = norm(text)
    for ev in evidence:
        e = norm(ev)
        if e and (e in t or (len(t) >= 40 and t in e)):
            return True
    return False


def passage_relevant(q: Question, doc_id: str, text: str) -> bool:
    """A passage counts when it is from a gold document and holds an evidence string (when given)."""
    if q.doc_ids and doc_id not in q.doc_ids:
        return False
    if q.evidence:
        return evidence_match(text, q.evidence)
    return bool(q.doc_ids)


def quote_correct(q: Question, doc_id: str, quote: str) -> bool:
    """A quote answers when it is from a gold document and holds a gold answer (or else the evidence)."""
    if q.doc_ids and doc_id not in q.doc_ids:
        return False
    if q.answers:
        return contains_any(quote, q.answers)
    if q.evidence:
        return evidence_match(quote, q.evidence)
    return bool(q.doc_ids)


@dataclass
class Outcome:
    """What happened to one question (kept small: a 10,000-question run holds these only)."""

    id: str
    question: str
    unanswerable: bool
    abstained: bool
    rank: int | None
    first_ok: bool | None
    any_ok: bool | None
    match: bool | None
    citations: int
    citations_ok: int
    latency_ms: float
    answer: str
    cited_docs: list[str] = field(default_factory=list)
    expected: str = ""
    short: str | None = None  # the short answer shown, if any
    short_em: float | None = None  # its exact match and F1 against the gold answers (None: the question has none)
    short_f1: float | None = None

    @property
    def failed(self) -> bool:
        """An answerable question declined or answered wrongly first, or an unanswerable one answered."""
        if self.unanswerable:
            return not self.abstained
        return self.abstained or not self.first_ok


class Judge:
    """Finds every relevant passage of a question in the index (for nDCG's ideal ranking)."""

    def __init__(self, store) -> None:
        self.store = store
        self._by_doc: dict[str, list[tuple[str, str]]] = {}

    def relevant(self, q: Question) -> set[str]:
        out: set[str] = set()
        for doc_id in q.doc_ids:
            if doc_id not in self._by_doc:
                rows = self.store.passage_texts_of(doc_id)
                self._by_doc[doc_id] = [(f"{doc_id}:{start}", text) for start, text in rows]
                if len(self._by_doc) > 256:
                    self._by_doc.pop(next(iter(self._by_doc)))
            out.update(key for key, text in self._by_doc[doc_id] if passage_relevant(q, doc_id, text))
        return out


def evaluate_one(engine, q: Question, mode: str, judge: Judge | None = None) -> tuple[Outcome, dict[str, float], set[str]]:
    """Ask one question; return its outcome, its ranked run (for ir-measures) and its relevant passages."""
    t0 = time.perf_counter()
    ans = engine.ask(q.question, list(q.history), mode=mode, report_k=10, dates=q.dates, asked=q.asked)
    latency = (time.perf_counter() - t0) * 1000
    # a result stands for its copies folded into it (the same passage in other articles): it counts as the
    # first of them that is relevant
    shown = [next((c for c in (p, *p.copies) if passage_relevant(q, c.doc_id, c.text)), p) for p in ans.passages[:10]]
    run = {f"{p.doc_id}:{p.start}": float(10 - i) for i, p in enumerate(shown)}
    relevant = {f"{p.doc_id}:{p.start}" for p in shown if passage_relevant(q, p.doc_id, p.text)}
    if judge is not None:
        relevant |= judge.relevant(q)
    rank = next((i + 1 for i, p in enumerate(shown) if passage_relevant(q, p.doc_id, p.text)), None)
    cites = [] if ans.abstained else ans.citations
    oks = [quote_correct(q, c.doc_id, c.quote) for c in cites]
    expected = " | ".join(q.answers or q.evidence) if not q.unanswerable else "(no answer: should abstain)"
    outcome = Outcome(
        id=q.id, question=q.question, unanswerable=q.unanswerable, abstained=ans.abstained, rank=rank,
        first_ok=(bool(oks) and oks[0]) if not q.unanswerable else None,
        any_ok=any(oks) if not q.unanswerable else None,
        match=contains_any(" ".join(c.quote for c in cites), q.answers) if q.answers and not q.unanswerable else None,
        citations=len(cites), citations_ok=sum(1 for c in cites if not q.doc_ids or c.doc_id in q.doc_ids),
        latency_ms=latency, answer=ans.answer[:600], cited_docs=[c.doc_id for c in cites], expected=expected,
        short=ans.short_answer.text if ans.short_answer else None,
    )
    if q.answers and not q.unanswerable:
        outcome.short_em, outcome.short_f1 = short_scores(outcome.short, q.answers)
    return outcome, run, relevant


RANKING = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10")


class RankingTotals:
    """Per-question hit@k, MRR@10 and nDCG@10 from ir-measures (pytrec_eval), summed batch by batch.

    The metrics are means over questions, so batches add up exactly while memory stays bounded.
    """

    def __init__(self) -> None:
        self.sums = dict.fromkeys(RANKING, 0.0)
        self.count = 0

    def add(self, qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> None:
        if not qrels:
            return
        import ir_measures
        from ir_measures import RR, Success, nDCG

        names = {Success @ 1: "hit@1", Success @ 5: "hit@5", Success @ 10: "hit@10", RR @ 10: "mrr@10", nDCG @ 10: "ndcg@10"}
        run = {q: run.get(q) or {"none": 0.0} for q in qrels}  # every judged question counts
        for m in ir_measures.iter_calc(list(names), qrels, run):
            self.sums[names[m.measure]] += float(m.value)
        self.count += len(qrels)

    def means(self) -> dict[str, float]:
        return {k: (v / self.count if self.count else float("nan")) for k, v in self.sums.items()}


def ranking_metrics(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, float]:
    """hit@1/5/10, MRR@10 and nDCG@10 averaged over the judged questions."""
    totals = RankingTotals()
    totals.add(qrels, run)
    return totals.means()


def summarise(outcomes: list[Outcome], ranking: dict[str, float]) -> dict[str, float]:
    """All metrics of a run, under the exact keys of the JSON report."""
    answerable = [o for o in outcomes if not o.unanswerable]
    unanswerable = [o for o in outcomes if o.unanswerable]
    abstained = [o for o in outcomes if o.abstained]
    offered = [o for o in answerable if not o.abstained]

    def frac(xs) -> float:
        xs = list(xs)
        return sum(xs) / len(xs) if xs else float("nan")

    metrics = dict(ranking)
    metrics.update({
        "answer_first": frac(bool(o.first_ok) for o in answerable),
        "answer_any": frac(bool(o.any_ok) for o in answerable),
        "answer_match": frac(bool(o.match) for o in answerable if o.match is not None),
        "citation_precision": (sum(o.citations_ok for o in offered) / sum(o.citations for o in offered))
        if sum(o.citations for o in offered) else float("nan"),
        "abstain_precision": frac(o.unanswerable for o in abstained),
        "abstain_recall": frac(o.abstained for o in unanswerable),
        "short_em": frac(o.short_em for o in answerable if o.short_em is not None),
        "short_f1": frac(o.short_f1 for o in answerable if o.short_f1 is not None),
        "answerable_declined": frac(o.abstained for o in answerable),
        "latency_ms_p50": float(np.percentile([o.latency_ms for o in outcomes], 50)) if outcomes else float("nan"),
        "latency_ms_p95": float(np.percentile([o.latency_ms for o in outcomes], 95)) if outcomes else float("nan"),
    })
    return metrics


def run_eval(engine, questions, mode: str = "hybrid", progress=None, known_docs: set[str] | None = None) -> dict:
    """Evaluate every question; the report is {"n", "metrics", "questions"}."""
    outcomes: list[Outcome] = []
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    totals = RankingTotals()
    warnings: list[str] = []
    judge = Judge(engine.store)
    for q in questions:
        if known_docs is not None:
            unknown = [d for d in q.doc_ids if d not in known_docs]
            if unknown:
                warnings.append(f"question {q.id}: unknown doc id(s) {', '.join(unknown)}")
        outcome, qrun, relevant = evaluate_one(engine, q, mode, judge)
        outcomes.append(outcome)
        if not q.unanswerable and (q.doc_ids or q.evidence):
            key = f"q{len(outcomes)}"
            # a question whose evidence is in no passage gets a placeholder relevant id: a miss
            qrels[key] = {pid: 1 for pid in relevant} or {"missing": 1}
            run[key] = qrun or {"none": 0.0}
            if len(qrels) >= 500:
                totals.add(qrels, run)
                qrels, run = {}, {}
        if progress:
            progress(1)
    totals.add(qrels, run)
    metrics = summarise(outcomes, totals.means())
    extra = {"answerable_declined": metrics.pop("answerable_declined")}
    return {
        "n": len(outcomes),
        "metrics": metrics,
        "extra_metrics": extra,
        "questions": [o.__dict__ for o in outcomes],
        "warnings": warnings,
    }


def parse_floor(text: str) -> tuple[str, float]:
    """METRIC=VALUE for --fail-under."""
    if "=" not in text:
        raise EvalError(f"--fail-under takes METRIC=VALUE, e.g. hit@1=0.8; got {text!r}")
    key, value = text.split("=", 1)
    if key not in METRICS and key != "answerable_declined":
        raise EvalError(f"--fail-under: unknown metric {key!r}; one of {', '.join(METRICS)}")
    try:
        return key, float(value)
    except ValueError as exc:
        raise EvalError(f"--fail-under: {value!r} is not a number") from exc


def missed_floors(metrics: dict[str, float], floors: list[tuple[str, float]]) -> list[str]:
    """Descriptions of the floors a report misses (for latency and declines, a ceiling)."""
    out = []
    for key, value in floors:
        got = metrics.get(key, float("nan"))
        worse = got > value if key in LOWER_IS_BETTER or key == "answerable_declined" else got < value
        if got != got or worse:
            out.append(f"{key} = {got:.4f} (floor {value})")
    return out
