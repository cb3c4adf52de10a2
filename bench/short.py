"""Short answers end to end: exact match and F1 (SQuAD's normalisation) against a simple baseline, same process.

    python -m bench.short [--set squad|news-val|both] [--limit N] [--also OLD.json]    (also `python -m bench.run --only short`)

Each question is asked as `qa ask` would; the engine's short answer (the reader's when the index names its export),
the linear span scorer's, the reader's likeliest span alone (without the question's words beside it), and the
baseline's (the first quote's longest span of the wanted type: a number, amount,
percentage or date as the question's kind asks, a capitalised name for who/where) are all read from the same first
quote. Sets: `../shared/bench/squad`
(first 3,000 questions, 48 articles) and news-dev's validation part (the last 482 questions, 2022-07 on),
each over its cached evaluation index (as `qa eval --corpus` builds it).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench.fit import SHARED, open_cached

NEWS_VALIDATION = 482  # news-dev questions from 2022-07 on: the validation part
SLACK = 0.01  # the threshold is the highest whose validation F1 is within this of the best
READER_GRID = [0.0, 0.005, 0.01, 0.02, 0.03] + [round(t, 2) for t in np.arange(0.05, 0.96, 0.05)]  # the reader's thresholds tried


@dataclass(frozen=True)
class Row:
    """One question: the model's best span's probability and scores, and the baseline's scores."""

    p: float  # -1 when no span could answer (abstained, not a plain answer, no candidate)
    em: float
    f1: float
    base_em: float
    base_f1: float
    ms: float = 0.0  # time to score the first quote's spans (the short answer's own cost)


def baseline_span(q, quote: str) -> str | None:
    """The first quote's longest span of the wanted type (None when the question wants none or the quote has none)."""
    from qa.answer.spans import typed_spans, wanted

    want = wanted(q)
    spans = [quote[s:e] for s, e, kind in typed_spans(quote) if kind in want]
    return max(spans, key=len) if spans else None


def measure(session, questions: list, others: tuple = ()) -> list[list[Row]]:
    """Every question asked end to end; the engine's best span (before its threshold) and the baseline's, scored;
    then the same for each other scorer (a (tuning, reader) pair: another fitted model) on the same first quotes."""
    from qa.evaluate import short_scores

    engine = session.engine
    scorers = ((engine.tuning, engine.reader), *others)
    out: list[list[Row]] = [[] for _ in scorers]
    for q in questions:
        ans = engine.ask(q.question, list(q.history), dates=q.dates)
        if ans.abstained or ans.kind != "answer":
            for rows in out:
                rows.append(Row(-1.0, 0.0, 0.0, 0.0, 0.0))
            continue
        u = engine.understand(q.question, list(q.history))
        quote = ans.citations[0].quote
        base = short_scores(baseline_span(u, quote), q.answers)
        for rows, (tuning, reader) in zip(out, scorers):
            rows.append(_scored(u, quote, tuning, reader, q.answers, base))
    return out


def _scored(u, quote: str, tuning, reader, answers: tuple[str, ...], base: tuple[float, float]) -> Row:
    """One model's best span of the quote, timed and scored."""
    from qa.answer.short import best_span
    from qa.evaluate import short_scores

    t0 = time.perf_counter()
    best = best_span(u, quote, tuning, reader)
    ms = (time.perf_counter() - t0) * 1000
    em, f1 = short_scores(best.text if best else None, answers)
    return Row(best.confidence if best else -1.0, em, f1, *base, ms)


def summary(rows: list[Row], threshold: float) -> dict:
    """EM and F1 over all questions at a threshold (a span under it is no answer: 0), the baseline's, and coverage."""
    shown = np.array([r.p >= threshold for r in rows])
    em = np.array([r.em for r in rows]) * shown
    f1 = np.array([r.f1 for r in rows]) * shown
    base_f1 = float(np.mean([r.base_f1 for r in rows]))
    return {
        "n": len(rows), "short_em": round(float(em.mean()), 4), "short_f1": round(float(f1.mean()), 4),
        "shown": round(float(shown.mean()), 4), "baseline_em": round(float(np.mean([r.base_em for r in rows])), 4),
        "baseline_f1": round(base_f1, 4), "baseline_shown": round(float(np.mean([r.base_f1 > 0 or r.base_em > 0 for r in rows])), 4),
        "ratio_f1": round(float(f1.mean()) / base_f1, 2) if base_f1 else float("nan"),
        "span_ms_p50": round(float(np.median([r.ms for r in rows if r.p >= 0] or [0.0])), 2),
        "span_ms_p95": round(float(np.percentile([r.ms for r in rows if r.p >= 0] or [0.0], 95)), 2),
        "load_avg": round(os.getloadavg()[0], 2),
    }


def validation_questions() -> list:
    """news-dev's validation part: its last 482 questions."""
    from qa.evaluate import load_questions

    return list(load_questions(SHARED / "news-dev" / "questions.jsonl"))[-NEWS_VALIDATION:]


def with_model(tuning, data: dict, below: float):
    """The tuning with a fitted span scorer (a `short_weights.json` payload) and a threshold."""
    return replace(tuning, short_weights=tuple(data["weights"].items()), short_bias=data["bias"], short_below=below,
                   short_lexical=tuple(data.get("lexical", {}).items()), short_idf=tuple(data.get("idf", {}).items()),
                   short_rare_idf=data.get("rare_idf", 1.0), short_vocab=tuple(data.get("vocab", ())),
                   short_objective=data.get("objective", "binary"))


def choose_threshold(weights: Path) -> tuple[float, dict]:
    """The linear scorer's threshold (a short_weights.json's model) on news-dev's validation part."""
    session = open_cached(SHARED / "news-dev" / "corpus")
    data = json.loads(weights.read_text(encoding="utf-8"))
    rows = measure(session, validation_questions(), ((with_model(session.engine.tuning, data, below=0.0), None),))[1]
    return _highest_near_best(rows, [round(t, 2) for t in np.arange(0.0, 0.61, 0.02)])


def choose_reader_threshold() -> tuple[float, dict]:
    """The reader's threshold (the fitted reader.safetensors, exported afresh) on news-dev's validation part."""
    session = open_cached(SHARED / "news-dev" / "corpus")
    if session.engine.reader is None:
        raise SystemExit("no reader export: rebuild news-dev's evaluation index (qa eval --corpus ... --rebuild)")
    return _highest_near_best(measure(session, validation_questions())[0], READER_GRID)


def _highest_near_best(rows: list[Row], grid: list[float]) -> tuple[float, dict]:
    """The highest threshold whose F1 is within SLACK of the best on the grid, and its figures."""
    best = max(summary(rows, t)["short_f1"] for t in grid)
    threshold = max(t for t in grid if summary(rows, t)["short_f1"] >= best - SLACK)
    return threshold, {"set": "news-dev validation (last 482)", **summary(rows, threshold)}


def run(which: str, limit: int, also: Path | None = None) -> dict:
    """The figures of each set asked for, from the same answers: the engine's short answers (the reader when the
    index names its export), the linear span scorer's, the baseline's (and another linear model's, `also`)."""
    from qa.evaluate import load_questions

    out = {}
    sets = []
    if which in ("squad", "both"):
        sets.append(("squad", SHARED / "squad", list(load_questions(SHARED / "squad" / "questions.jsonl", limit))))
    if which in ("news-val", "both"):
        sets.append(("news_validation", SHARED / "news-dev", validation_questions()))
    for name, root, qs in sets:
        session = open_cached(root / "corpus")
        tuning, reader = session.engine.tuning, session.engine.reader
        other = json.loads(also.read_text(encoding="utf-8")) if also else None
        alone = [(replace(tuning, reader_near=0.0), reader)] if reader else []  # the reader's likeliest span, as before round 11
        others = [(tuning, None), *alone] + ([(with_model(tuning, other, other["threshold"]), None)] if other else [])
        results = measure(session, qs, tuple(others))
        out[name] = {"scorer": "reader" if reader else "linear",
                     **summary(results[0], tuning.reader_below if reader else tuning.short_below)}
        out[name + " (linear span scorer)"] = summary(results[1], tuning.short_below)
        if alone:
            out[name + " (the reader's likeliest span alone)"] = summary(results[2], tuning.reader_below)
        if other:
            out[name + f" ({also.name})"] = summary(results[-1], other["threshold"])
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=("squad", "news-val", "both"), default="both")
    ap.add_argument("--limit", type=int, default=3000, help="squad questions (default 3,000)")
    ap.add_argument("--also", type=Path, default=None, help="another fitted short_weights.json, scored on the same quotes")
    args = ap.parse_args(argv)
    print(json.dumps(run(args.set, args.limit, args.also), indent=1))


if __name__ == "__main__":
    main()
