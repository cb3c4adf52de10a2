"""Short answers end to end: exact match and F1 (SQuAD's normalisation) against a simple baseline, same process.

    python -m bench.short [--set squad|news-val|both] [--limit N]    (also `python -m bench.run --only short`)

Each question is asked as `qa ask` would; the model's short answer and the baseline's (the first quote's
longest span of the wanted type: a number, amount, percentage or date as the question's kind asks, a
capitalised name for who/where) are both read from the same first quote. Sets: `../shared/bench/squad`
(first 3,000 questions, 48 articles) and news-dev's validation part (the last 482 questions, 2022-07 on),
each over its cached evaluation index (as `qa eval --corpus` builds it).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench.fit import SHARED, open_cached

NEWS_VALIDATION = 482  # news-dev questions from 2022-07 on: the validation part
SLACK = 0.01  # the threshold is the highest whose validation F1 is within this of the best


@dataclass(frozen=True)
class Row:
    """One question: the model's best span's probability and scores, and the baseline's scores."""

    p: float  # -1 when no span could answer (abstained, not a plain answer, no candidate)
    em: float
    f1: float
    base_em: float
    base_f1: float


def baseline_span(q, quote: str) -> str | None:
    """The first quote's longest span of the wanted type (None when the question wants none or the quote has none)."""
    from qa.answer.spans import typed_spans, wanted

    want = wanted(q)
    spans = [quote[s:e] for s, e, kind in typed_spans(quote) if kind in want]
    return max(spans, key=len) if spans else None


def measure(session, questions: list) -> list[Row]:
    """Every question asked end to end; the model's best span (before its threshold) and the baseline's, scored."""
    from qa.answer.short import best_span
    from qa.evaluate import short_scores

    engine = session.engine
    rows = []
    for q in questions:
        ans = engine.ask(q.question, list(q.history), dates=q.dates)
        if ans.abstained or ans.kind != "answer":
            rows.append(Row(-1.0, 0.0, 0.0, 0.0, 0.0))
            continue
        u = engine.understand(q.question, list(q.history))
        quote = ans.citations[0].quote
        best = best_span(u, quote, engine.tuning)
        em, f1 = short_scores(best[1].text if best else None, q.answers)
        rows.append(Row(best[0] if best else -1.0, em, f1, *short_scores(baseline_span(u, quote), q.answers)))
    return rows


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
    }


def validation_questions() -> list:
    """news-dev's validation part: its last 482 questions."""
    from qa.evaluate import load_questions

    return list(load_questions(SHARED / "news-dev" / "questions.jsonl"))[-NEWS_VALIDATION:]


def choose_threshold(weights: Path) -> tuple[float, dict]:
    """The highest threshold whose F1 on news-dev's validation part is within SLACK of the best, and its figures."""
    session = open_cached(SHARED / "news-dev" / "corpus")
    data = json.loads(weights.read_text(encoding="utf-8"))
    session.engine.tuning = replace(session.engine.tuning, short_weights=tuple(data["weights"].items()), short_bias=data["bias"],
                                    short_below=0.0)
    rows = measure(session, validation_questions())
    grid = [round(t, 2) for t in np.arange(0.0, 0.61, 0.02)]
    best = max(summary(rows, t)["short_f1"] for t in grid)
    threshold = max(t for t in grid if summary(rows, t)["short_f1"] >= best - SLACK)
    return threshold, {"set": "news-dev validation (last 482)", **summary(rows, threshold)}


def run(which: str, limit: int) -> dict:
    """The figures of each set asked for, model and baseline from the same answers."""
    from qa.evaluate import load_questions

    out = {}
    if which in ("squad", "both"):
        session = open_cached(SHARED / "squad" / "corpus")
        qs = list(load_questions(SHARED / "squad" / "questions.jsonl", limit))
        out["squad"] = summary(measure(session, qs), session.engine.tuning.short_below)
    if which in ("news-val", "both"):
        session = open_cached(SHARED / "news-dev" / "corpus")
        out["news_validation"] = summary(measure(session, validation_questions()), session.engine.tuning.short_below)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=("squad", "news-val", "both"), default="both")
    ap.add_argument("--limit", type=int, default=3000, help="squad questions (default 3,000)")
    args = ap.parse_args(argv)
    print(json.dumps(run(args.set, args.limit), indent=1))


if __name__ == "__main__":
    main()
