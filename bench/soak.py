"""Soak benchmark (`make bench-soak`): 1,000 questions through `qa eval`'s run_eval in one process.

    python -m bench.soak [--questions 1000] [--window 100]

Latency p50 and resident memory per window of questions: steady latency and flat memory after the
first window are what a long chat or a big evaluation needs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.run import SQUAD
from bench.scale import rss_mb


def main() -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--questions", type=int, default=1000)
    p.add_argument("--window", type=int, default=100)
    p.add_argument("--index", type=Path, help="an index of the SQuAD corpus (default: the one `qa eval --corpus` caches)")
    a = p.parse_args()
    from qa.cli import eval_config
    from qa.config import Config
    from qa.evaluate import load_questions, run_eval
    from qa.session import open_session

    cfg = Config(corpus_dir=SQUAD / "corpus")
    cfg = Config(corpus_dir=cfg.corpus_dir, index_dir=a.index) if a.index else eval_config(cfg, True, False)
    engine = open_session(cfg).engine
    engine.ask("warm up")
    start_mb = rss_mb()
    samples: list[float] = []
    count = 0

    def tick(_: int) -> None:
        nonlocal count
        count += 1
        if count % a.window == 0:
            samples.append(rss_mb())

    report = run_eval(engine, load_questions(SQUAD / "questions.jsonl", a.questions), progress=tick)
    lat = [q["latency_ms"] for q in report["questions"]]
    windows = [
        {"questions": f"{i + 1}-{i + a.window}", "latency_ms_p50": float(np.percentile(lat[i:i + a.window], 50)),
         "latency_ms_p95": float(np.percentile(lat[i:i + a.window], 95)), "rss_mb": samples[k]}
        for k, i in enumerate(range(0, len(lat) - a.window + 1, a.window))
    ]
    res = {"n": report["n"], "rss_mb_after_load": start_mb, "windows": windows,
           "rss_growth_after_first_window_mb": windows[-1]["rss_mb"] - windows[0]["rss_mb"],
           "latency_p50_last_over_first": windows[-1]["latency_ms_p50"] / windows[0]["latency_ms_p50"]}
    print(json.dumps(res, indent=1))
    print(f"soak      {res['n']} questions in one process: RSS {start_mb:.0f} MB after loading, "
          f"{windows[0]['rss_mb']:.0f} MB after {a.window}, {windows[-1]['rss_mb']:.0f} MB after {res['n']} "
          f"({res['rss_growth_after_first_window_mb']:+.0f} MB); latency p50 first window "
          f"{windows[0]['latency_ms_p50']:.1f} ms, last {windows[-1]['latency_ms_p50']:.1f} ms "
          f"(ratio {res['latency_p50_last_over_first']:.2f})")
    return res


if __name__ == "__main__":
    main()
