"""A learned passage ranker, tried and left out: does a model over the engine's own passage signals order
the top 20 passages better than "best sentence first"?

    python -m bench.learn_rank [--squad-train 4000]

Fits on squad-train (first N questions) and news-dev before 2022-07, reports hit@1 / MRR@10 on news-dev's
validation part (from 2022-07) and on bench/squad's first 3,000, beside "best sentence first" over all 20
(close to, not exactly, the engine's order: it reranks its first 8 by best sentence, then keeps retrieval
order) and the fused retrieval order, all from the same candidates (no date filter, copies not folded).
The result is in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.fit import NEWS_TRAIN, SHARED, open_cached
from qa.answer.scoring import score_passages, weigh_terms
from qa.evaluate import load_questions, passage_relevant
from qa.lexical import tokenize

CANDIDATES = 20
FEATURES = (
    "fused", "bm25", "dense", "dense_gap", "fused_rr", "best_gap", "best_dense", "best_coverage", "doc_share",
    "doc_best_gap", "doc_dense_gap", "headline", "lead", "typed", "doc_first", "names", "log_chars", "bm25_rr", "dense_rr",
)


@dataclass
class Candidates:
    """Feature rows of every question's candidate passages, whether each is relevant, and its question."""

    x: np.ndarray
    y: np.ndarray
    group: np.ndarray


def _rows(engine, q, hits) -> list[list[float]]:
    """One feature row per candidate passage (in retrieval order)."""
    u = engine.understand(q.question, q.history)
    scored = score_passages(u, hits, engine.retriever, engine.features, engine.tuning)
    terms = weigh_terms(u, engine.retriever.index.lexical, engine.tuning)
    top, bmax = max(h.score for h in hits) or 1.0, max(h.bm25 for h in hits) or 1.0
    known = [h.dense for h in hits if h.dense]
    dense = [h.dense or (min(known) if known else 0.0) for h in hits]
    best = [b if b > float("-inf") else 0.0 for b in scored.best]
    sent_dense, cover, typed = [0.0] * len(hits), [0.0] * len(hits), [0.0] * len(hits)
    for s in scored.sentences:
        sent_dense[s.hit], cover[s.hit] = max(sent_dense[s.hit], s.dense), max(cover[s.hit], s.coverage)
        typed[s.hit] = max(typed[s.hit], float(s.typed))
    names = [set(w.tokens) for w in u.names]
    brank = {i: r for r, i in enumerate(sorted(range(len(hits)), key=lambda i: -hits[i].bm25))}
    drank = {i: r for r, i in enumerate(sorted(range(len(hits)), key=lambda i: -dense[i]))}
    total = sum(terms.base.values()) or 1.0
    rows = []
    for i, h in enumerate(hits):
        same = [j for j in range(len(hits)) if hits[j].doc_id == h.doc_id]
        words = set(tokenize(h.passage.text))
        rows.append([
            h.score / top, h.bm25 / bmax, dense[i], dense[i] - max(dense), 1 / (i + 1), best[i] - max(best),
            sent_dense[i], cover[i], len(same) / len(hits), max(best[j] for j in same) - max(best),
            max(dense[j] for j in same) - max(dense),
            sum(w for t, w in terms.base.items() if t in engine.features.get(h.doc_id).headline) / total,
            float(h.passage.first_sentence == 0), typed[i], float(min(same) == i),
            sum(n <= words for n in names) / len(names) if names else 1.0, math.log(len(h.passage.text) + 1),
            1 / (brank[i] + 1), 1 / (drank[i] + 1),
        ])
    return rows


def collect(corpus: Path, questions: list) -> Candidates:
    """The candidates of every answerable question, over the corpus's cached evaluation index."""
    session = open_cached(corpus)
    engine = session.engine
    xs, ys, gs = [], [], []
    for n, q in enumerate(q for q in questions if not q.unanswerable):
        hits = engine.retriever.search(engine.understand(q.question, q.history).query, k=CANDIDATES)
        if hits:
            xs += _rows(engine, q, hits)
            ys += [passage_relevant(q, h.doc_id, h.passage.text) for h in hits]
            gs += [n] * len(hits)
    session.close()
    return Candidates(np.array(xs, float), np.array(ys, bool), np.array(gs))


def ranking(scores: np.ndarray, c: Candidates) -> tuple[float, float]:
    """hit@1 and MRR@10 of ordering each question's candidates by score."""
    hit1 = mrr = 0.0
    groups = np.unique(c.group)
    for g in groups:
        rel = c.y[c.group == g][np.argsort(-scores[c.group == g], kind="stable")][:10]
        hit1 += float(rel[0])
        mrr += 1 / (int(np.argmax(rel)) + 1) if rel.any() else 0.0
    return round(hit1 / len(groups), 3), round(mrr / len(groups), 3)


def main() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    p = argparse.ArgumentParser()
    p.add_argument("--squad-train", type=int, default=4000)
    a = p.parse_args()
    news = SHARED / "news-dev"
    news_q = list(load_questions(news / "questions.jsonl"))
    train = [collect(SHARED / "squad-train" / "corpus", list(load_questions(SHARED / "squad-train" / "questions.jsonl", a.squad_train))),
             collect(news / "corpus", news_q[:NEWS_TRAIN])]
    report = {"news-dev validation": collect(news / "corpus", news_q[NEWS_TRAIN:]),
              "squad first 3,000": collect(SHARED / "squad" / "corpus", list(load_questions(SHARED / "squad" / "questions.jsonl", 3000)))}
    x, y = np.vstack([t.x for t in train]), np.concatenate([t.y for t in train])
    scaler = StandardScaler().fit(x)
    models = {"logistic regression": LogisticRegression(C=1.0, max_iter=3000).fit(scaler.transform(x), y),
              "gradient boosting (depth 3)": HistGradientBoostingClassifier(max_depth=3, max_iter=200, learning_rate=0.05).fit(x, y)}
    for name, c in report.items():
        print(f"{name}: retrieval order {ranking(c.x[:, 0], c)}, best sentence first {ranking(c.x[:, 5] * 1e3 + c.x[:, 0], c)}")
        print(f"  logistic regression {ranking(models['logistic regression'].decision_function(scaler.transform(c.x)), c)}, "
              f"gradient boosting {ranking(models['gradient boosting (depth 3)'].predict_proba(c.x)[:, 1], c)}")


if __name__ == "__main__":
    main()
