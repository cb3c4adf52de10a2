"""Fit the short-answer span scorer: logistic regression over `qa.answer.spans.FEATURES`.

    python -m bench.fit_short [--limit N] [--C 1.0] [--threshold T | --choose] [--out qa/answer/short_weights.json]

Training data: `../shared/bench/squad-train` (Wikipedia, no article shared with `bench/squad`): each question's
evidence sentence is the quote, and a candidate span is positive when it equals a gold answer under SQuAD's
normalisation. `--choose` then sets the threshold on news-dev's validation part (the 482 questions from
2022-07, end to end, never fitted on; see `bench.short`). Nothing here reads bench/squad or questions/ccg.jsonl.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.fit import SHARED

OUT = Path(__file__).resolve().parent.parent / "qa" / "answer" / "short_weights.json"


def rows(limit: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """(features, labels, questions used) from squad-train's evidence sentences."""
    from qa.answer.question import understand
    from qa.answer.spans import candidates, featurise
    from qa.evaluate import load_questions, squad_norm

    xs, ys, used = [], [], 0
    for q in load_questions(SHARED / "squad-train" / "questions.jsonl", limit):
        if not q.evidence or not q.answers:
            continue
        spans = candidates(q.evidence[0])
        if not spans.cands:
            continue
        gold = {squad_norm(a) for a in q.answers}
        xs += featurise(understand(q.question), spans)
        ys += [squad_norm(c.text) in gold for c in spans.cands]
        used += 1
    return np.array(xs), np.array(ys), used


def fit(x: np.ndarray, y: np.ndarray, c: float) -> tuple[list[float], float]:
    """Logistic regression weights and bias."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=3000).fit(x, y)
    return [round(float(w), 5) for w in model.coef_[0]], round(float(model.intercept_[0]), 5)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="squad-train questions to read (default: all)")
    ap.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    ap.add_argument("--threshold", type=float, default=0.1, help="the probability a span needs to be shown")
    ap.add_argument("--choose", action="store_true", help="choose the threshold on news-dev's validation part")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    from qa.answer.spans import FEATURES

    x, y, used = rows(args.limit)
    weights, bias = fit(x, y, args.C)
    payload = {
        "weights": dict(zip(FEATURES, weights)), "bias": bias, "threshold": args.threshold,
        "data": f"squad-train: {used} questions' evidence sentences, {len(y)} candidate spans, {int(y.sum())} positive",
        "C": args.C,
    }
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    if args.choose:
        from bench.short import choose_threshold

        payload["threshold"], payload["validation"] = choose_threshold(args.out)
        args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in payload.items() if k != "weights"}, indent=1))


if __name__ == "__main__":
    main()
