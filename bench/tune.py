"""Sweep answer-engine settings over question sets with one loaded model (for calibration).

    python -m bench.tune QUESTIONS.jsonl --corpus DIR --index DIR [--limit N] [--grid name=v1,v2 ...]
        [--retr DENSE_WEIGHT ...] [--bm25 K1:B ...] [--max-tokens N --overlap N]   (builds the index in DIR with those chunk settings if needed)
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

from qa.answer import Engine, Tuning, understand
from qa.config import ChunkSettings, Config
from qa.evaluate import load_questions, run_eval
from qa.lexical import Lexical
from qa.retrieve import DENSE_WEIGHT
from qa.session import open_session

KEYS = ("hit@1", "mrr@10", "answer_first", "answer_any", "short_f1", "abstain_precision", "abstain_recall", "answerable_declined",
        "latency_ms_p50")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("questions", type=Path)
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--limit", type=int)
    p.add_argument("--mode", default="hybrid")
    p.add_argument("--grid", nargs="*", default=[])
    p.add_argument("--retr", nargs="*", default=[], help="dense_weight values")
    p.add_argument("--bm25", nargs="*", default=[], help="k1:b pairs; BM25 rebuilt in memory for each")
    p.add_argument("--titles", action="store_true", help="BM25 over headline + passage (rebuilt in memory)")
    p.add_argument("--max-tokens", type=int, default=ChunkSettings().max_tokens)
    p.add_argument("--overlap", type=int, default=ChunkSettings().overlap_sentences)
    a = p.parse_args()
    cfg = Config(corpus_dir=a.corpus, index_dir=a.index, chunk=ChunkSettings(a.max_tokens, a.overlap))
    session = open_session(cfg)
    if session.report is not None:
        print(json.dumps({"built_passages": session.report.passages_total, "seconds": round(session.report.seconds, 1)}), flush=True)
    retriever = session.retriever
    qs = list(load_questions(a.questions, a.limit))
    retriever.prime([understand(q.question, q.history).query for q in qs])  # one batch, reused by every run
    grid = {g.split("=")[0]: [float(v) for v in g.split("=")[1].split(",")] for g in a.grid}
    texts = []
    if a.bm25 or a.titles:
        texts = [(session.article(r.doc_id).title + "\n" if a.titles else "") + r.text for r in session.passages()]
    for bm, dw in itertools.product(a.bm25 or ["1.2:0.75" if a.titles else ""], [float(x) for x in a.retr] or [DENSE_WEIGHT]):
        if bm:
            k1, b = (float(x) for x in bm.split(":"))
            session.index.lexical = Lexical.build(texts, k1, b)  # swapped in memory, for this sweep only
        retriever.dense_weight = dw
        for combo in itertools.product(*grid.values()) if grid else [()]:
            tun = replace(Tuning(), **{k: type(getattr(Tuning(), k))(v) for k, v in zip(grid, combo)})
            rep = run_eval(Engine(retriever, tun, reader=session.engine.reader), qs, mode=a.mode)
            m = {**rep["metrics"], **rep["extra_metrics"]}
            print(json.dumps({"bm25": bm, "dense_weight": dw, **dict(zip(grid, combo)), **{k: round(m[k], 4) for k in KEYS}}), flush=True)


if __name__ == "__main__":
    main()
