"""Fit the short-answer span scorer: logistic regression (or a conditional logit) over `qa.answer.spans.FEATURES` and crosses.

    python -m bench.fit_short [--limit N] [--objective softmax|binary] [--l2 0.001] [--C 1.0] [--heldout N]
                              [--threshold T | --choose] [--out qa/answer/short_weights.json]

`--objective binary` (the default, the shipped model) fits each candidate span alone (logistic regression);
`softmax` fits a conditional logit, in which one sentence's candidates share one probability and the gold
span should get the most (the multinomial model of SQuAD's logistic-regression baseline), decoded at run time
by expected F1 (`qa.answer.short.decode`). Softmax won with the right sentence given (held-out F1 0.558 vs
0.533) but not end to end on news-dev validation (0.2225 vs 0.2269), so it is not shipped (docs/benchmarks.md).

Training data: `../shared/bench/squad-train` (Wikipedia, no article shared with `bench/squad`): each question's
evidence sentence is the quote, and a candidate span is positive when it equals a gold answer under SQuAD's
normalisation. The word rarities (IDF) and the vocabulary of the crosses are counted on the same sentences.
`--heldout N` fits on all but the last N questions and prints EM/F1 on those N with the right sentence given.
`--choose` then sets the threshold on news-dev's validation part (the 482 questions from 2022-07, end to end,
never fitted on; see `bench.short`). Nothing here reads bench/squad or questions/ccg.jsonl.
"""

from __future__ import annotations

import argparse
import json
import math
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.fit import SHARED

OUT = Path(__file__).resolve().parent.parent / "qa" / "answer" / "short_weights.json"
IDF_WORDS = 2000  # stems whose IDF is stored (the rest weigh as the rarest of them)
VOCAB = 400  # words kept verbatim in the crosses (the rest by shape)
MIN_KEY = 30  # a cross seen on fewer training candidates gets no weight
MAX_LEXICAL = 5000  # the crosses kept (the heaviest of a first fit; the model is then fitted again on them alone)


@dataclass
class Data:
    """Training rows: dense features, lexical keys (as column indices), labels and each row's question."""

    dense: list
    cols: array
    ptr: array
    y: list
    group: list
    golds: list  # per question: (its candidates' texts, its gold answers)


def training_questions(limit: int | None) -> list:
    """squad-train's questions with an evidence sentence and answers."""
    from qa.evaluate import load_questions

    return [q for q in load_questions(SHARED / "squad-train" / "questions.jsonl", limit) if q.evidence and q.answers]


def lexicon(questions: list):
    """IDF of stems and the frequent-word vocabulary, counted on the evidence sentences."""
    from qa.answer.spanlex import Lexicon
    from qa.lexical import tokenize

    df: Counter = Counter()
    words: Counter = Counter()
    sentences = list(dict.fromkeys(q.evidence[0] for q in questions))
    for s in sentences:
        df.update(set(tokenize(s)))
        words.update(w.lower() for w in s.split())
    idf = {w: round(math.log(len(sentences) / c), 2) for w, c in df.most_common(IDF_WORDS)}
    rare = max(idf.values(), default=1.0)
    vocab = frozenset(w for w, _ in words.most_common(VOCAB) if w.isalpha())
    return Lexicon(idf, rare, vocab)


def rows(questions: list, lex, keys: dict[str, int]) -> Data:
    """Every candidate of every question's evidence sentence, featurised."""
    from qa.answer.question import understand
    from qa.answer.spans import candidates, featurise, lexical_keys
    from qa.evaluate import squad_norm

    d = Data([], array("i"), array("q", [0]), [], [], [])
    for q in questions:
        spans = candidates(q.evidence[0])
        if not spans.cands:
            continue
        u = understand(q.question)
        gold = {squad_norm(a) for a in q.answers}
        d.dense += featurise(u, spans, lex)
        for ks in lexical_keys(u, spans, lex):
            d.cols.extend(keys.setdefault(k, len(keys)) for k in ks)
            d.ptr.append(len(d.cols))
        d.y += [squad_norm(c.text) in gold for c in spans.cands]
        d.group += [len(d.golds)] * len(spans.cands)
        d.golds.append(([c.text for c in spans.cands], q.answers))
    return d


def matrix(d: Data, n_keys: int, keep: np.ndarray):
    """The dense features beside the kept lexical columns, as one sparse matrix."""
    from scipy import sparse

    lexical = sparse.csr_matrix((np.ones(len(d.cols)), np.frombuffer(d.cols, dtype=np.int32), np.frombuffer(d.ptr, dtype=np.int64)),
                                shape=(len(d.y), n_keys))[:, keep]
    return sparse.hstack([sparse.csr_matrix(np.array(d.dense)), lexical]).tocsr()


def fit(x, y: np.ndarray, c: float):
    """Logistic regression."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000).fit(x, y)


@dataclass
class Linear:
    """Fitted weights (over the columns of `matrix`) and bias, as sklearn's models expose them."""

    coef_: np.ndarray
    intercept_: np.ndarray

    def decision_function(self, x) -> np.ndarray:
        return x @ self.coef_[0] + self.intercept_[0]


def fit_softmax(x, y: np.ndarray, group: np.ndarray, l2: float, iters: int = 400) -> Linear:
    """Conditional logit: maximise the log softmax probability of each sentence's gold spans among its candidates
    (sentences with no gold candidate left out), with an L2 penalty; L-BFGS on the sparse features."""
    from scipy.optimize import minimize

    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    g = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(group)]))
    gold = np.add.reduceat(y.astype(float), starts)
    target = np.where(gold[g] > 0, y / np.maximum(gold[g], 1), 0.0)
    used = (gold[g] > 0).astype(float)
    n = float((gold > 0).sum())
    xt = x.T.tocsr()

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        z = z - np.maximum.reduceat(z, starts)[g]
        e = np.exp(z)
        total = np.add.reduceat(e, starts)[g]
        logp = z - np.log(total)
        value = -(target * logp).sum() / n + 0.5 * l2 * (w @ w)
        return value, xt @ ((e / total * used - target) / n) + l2 * w

    w = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": iters}).x
    return Linear(w[None, :], np.zeros(1))


def heldout_scores(model, x, d: Data, objective: str) -> dict:
    """EM/F1 of each question's chosen span with its evidence sentence given (decoded as at run time)."""
    from qa.answer.short import decode
    from qa.answer.tuning import Tuning
    from qa.evaluate import short_scores

    z = model.decision_function(x)
    group = np.array(d.group)
    ems, f1s = [], []
    for g, (texts, answers) in enumerate(d.golds):
        idx = np.flatnonzero(group == g)
        best = texts[decode(texts, z[idx].tolist(), objective, Tuning().short_mbr_top)[1]]
        em, f1 = short_scores(best, answers)
        ems.append(em)
        f1s.append(f1)
    return {"questions": len(ems), "em": round(float(np.mean(ems)), 4), "f1": round(float(np.mean(f1s)), 4)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="squad-train questions to read (default: all)")
    ap.add_argument("--objective", choices=("binary", "softmax"), default="binary")
    ap.add_argument("--l2", type=float, default=1e-3, help="L2 penalty of the softmax objective")
    ap.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength of the binary objective")
    ap.add_argument("--heldout", type=int, default=0, help="fit on all but the last N questions; score those N")
    ap.add_argument("--no-lexical", action="store_true", help="dense features only")
    ap.add_argument("--threshold", type=float, default=0.1, help="the probability a span needs to be shown")
    ap.add_argument("--choose", action="store_true", help="choose the threshold on news-dev's validation part")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    from qa.answer.spans import FEATURES, settings

    qs = training_questions(args.limit)
    train_qs, test_qs = (qs[:-args.heldout], qs[-args.heldout:]) if args.heldout else (qs, [])
    lex = lexicon(train_qs)
    keys: dict[str, int] = {}
    d = rows(train_qs, lex, keys)
    counts = np.bincount(np.frombuffer(d.cols, dtype=np.int32), minlength=len(keys))
    keep = np.flatnonzero(counts >= MIN_KEY) if not args.no_lexical else np.array([], dtype=int)
    names = list(keys)
    x = matrix(d, len(keys), keep)

    def fitted(x):
        if args.objective == "binary":
            return fit(x, np.array(d.y), args.C)
        return fit_softmax(x, np.array(d.y), np.array(d.group), args.l2)

    model = fitted(x)
    if len(keep) > MAX_LEXICAL:  # keep the heaviest crosses so the weights file stays small, and fit again
        order = np.argsort(-np.abs(model.coef_[0][len(FEATURES):]))[:MAX_LEXICAL]
        cols = np.sort(order)
        keep = keep[cols]
        x = x[:, np.concatenate([np.arange(len(FEATURES)), len(FEATURES) + cols])]
        model = fitted(x)
    coef = model.coef_[0]
    payload = {
        "weights": {f: round(float(w), 5) for f, w in zip(FEATURES, coef[:len(FEATURES)])},
        "bias": round(float(model.intercept_[0]), 5), "threshold": args.threshold,
        "lexical": {names[k]: round(float(w), 3) for k, w in zip(keep, coef[len(FEATURES):])},
        "idf": lex.idf, "rare_idf": lex.rare, "vocab": sorted(lex.vocab),
        "data": f"squad-train: {len(d.golds)} questions' evidence sentences, {len(d.y)} candidate spans, {int(sum(d.y))} positive",
        "objective": args.objective, "C": args.C, "l2": args.l2, "spans": settings(),
    }
    if test_qs:
        t = rows(test_qs, lex, keys)  # a cross new to the held-out part adds a column no weight reads
        payload["heldout"] = heldout_scores(model, matrix(t, len(keys), keep), t, args.objective)
    else:
        args.out.write_text(json.dumps(payload, indent=0) + "\n", encoding="utf-8")
    if args.choose and not test_qs:
        from bench.short import choose_threshold

        payload["threshold"], payload["validation"] = choose_threshold(args.out)
        args.out.write_text(json.dumps(payload, indent=0) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in payload.items() if k not in ("weights", "lexical", "idf", "vocab")}, indent=1))


if __name__ == "__main__":
    main()
