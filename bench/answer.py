"""Answer latency: `Engine.ask` end to end with the model loaded, next to retrieval alone."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def bench_answer(index_dir: Path, corpus: Path, questions: list[dict]) -> dict:
    """p50/p95 of a full cited answer and of the search inside it, over the same questions."""
    from qa.config import Config
    from qa.session import open_session

    with open_session(Config(corpus_dir=corpus, index_dir=index_dir), sync="never") as session:
        return _time_answers(session.engine, questions)


def _time_answers(engine, questions: list[dict]) -> dict:
    retriever = engine.retriever
    for q in questions[:5]:
        engine.ask(q["question"])
    total, retrieve = [], []
    for q in questions:
        t0 = time.perf_counter()
        answer = engine.ask(q["question"], q.get("history") or [])
        total.append((time.perf_counter() - t0) * 1000)
        retrieve.append(answer.timings_ms["retrieve"])
    out = {
        "questions": len(questions), "passages": retriever.index.size,
        "answer_ms_p50": float(np.percentile(total, 50)), "answer_ms_p95": float(np.percentile(total, 95)),
        "retrieve_ms_p50": float(np.percentile(retrieve, 50)),
    }
    print(f"answer    {out['questions']} questions over {out['passages']} passages: p50 {out['answer_ms_p50']:.1f} ms, "
          f"p95 {out['answer_ms_p95']:.1f} ms (retrieval p50 {out['retrieve_ms_p50']:.1f} ms)")
    return out
