"""Cold start: a new process answering on a built index (questions through the ONNX export, no torch).

    python -m bench.cold [--runs N]

Figures, each beside its baseline measured in the same run: `qa ask` wall time against
`python -c "import sentence_transformers"`; the chat's launch to ready-to-answer against its first
paint; warm answer latency and per-question encoding through ONNX Runtime and through torch; and
`qa eval questions/ccg.jsonl` end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "questions" / "ccg.jsonl"
ASK = "Why was North Derbyshire rated inadequate?"

CHAT_READY = r"""
import time, sys
t0 = time.perf_counter()
import asyncio
from pathlib import Path
from qa.config import Config
from qa.tui.app import create_app
async def main():
    app = create_app(Config(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2])))
    async with app.run_test(size=(120, 40)) as pilot:
        while app.first_paint_s is None:
            await asyncio.sleep(0.001)
        paint = time.perf_counter() - t0
        while app.session is None:
            await asyncio.sleep(0.001)
        print(paint, time.perf_counter() - t0)
asyncio.run(main())
"""


def wall(cmd: list[str], runs: int) -> list[float]:
    """Seconds each run of cmd took, from launch to exit (it must succeed)."""
    out = []
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=REPO, env=env)
        out.append(time.perf_counter() - t0)
    return out


def chat_ready(corpus: Path, index: Path, runs: int) -> tuple[list[float], list[float]]:
    """(first paint, ready to answer) seconds from launch, one pair per run."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    paint, ready = [], []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", CHAT_READY, str(corpus), str(index)],
                              check=True, capture_output=True, text=True, cwd=REPO, env=env)
        p, r = map(float, proc.stdout.split()[-2:])
        paint.append(p)
        ready.append(r)
    return paint, ready


def warm(cfg, embedder, questions: list[str]) -> dict:
    """Answer latency and bare question encoding, ms p50, through the ONNX export and through torch."""
    from qa.answer import Engine
    from qa.answer.reader import load_reader
    from qa.query_encoder import load_query_encoder
    from qa.retrieve import Retriever, open_index

    index = open_index(cfg)
    onnx = load_query_encoder(index.manifest, cfg.model)
    reader = load_reader(index.manifest, cfg.model)
    out = {}
    for name, enc in (("onnx", onnx), ("torch", embedder)):
        engine = Engine(Retriever(index, enc), reader=reader)
        for q in questions[:10]:
            engine.ask(q)
            enc.encode_queries([q])
        asks, encodes = [], []
        for q in questions:
            engine.retriever._qcache.clear()
            t0 = time.perf_counter()
            engine.ask(q)
            asks.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            enc.encode_queries([q])
            encodes.append((time.perf_counter() - t0) * 1000)
        out[name] = {"answer_ms_p50": float(np.median(asks)), "encode_ms_p50": float(np.median(encodes))}
    index.close()
    return out


def bench_cold(embedder, runs: int = 5) -> dict:
    """Every cold-start figure over a fresh index of the seed articles (built with `embedder`, which exports)."""
    from qa.config import Config
    from qa.session import open_session

    py = sys.executable
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config(corpus_dir=REPO / "corpus", index_dir=Path(tmp) / "index")
        open_session(cfg, embedder=embedder).close()  # build the index (and the export, when missing)
        where = ["--corpus", str(cfg.corpus_dir), "--index", str(cfg.index_dir)]
        r: dict = {"runs": runs}
        r["import_st_s"] = wall([py, "-c", "import sentence_transformers"], max(3, runs // 2 + 1))
        r["ask_s"] = wall([py, "-m", "qa", "ask", ASK, *where], runs)
        r["help_s"] = wall([py, "-m", "qa", "--help"], runs)
        r["chat_paint_s"], r["chat_ready_s"] = chat_ready(cfg.corpus_dir, cfg.index_dir, runs)
        r["eval_s"] = wall([py, "-m", "qa", "eval", str(QUESTIONS), *where], 3)
        r["warm"] = warm(cfg, embedder, questions)
    _print(r)
    return r


def _print(r: dict) -> None:
    p50 = {k: float(np.median(v)) for k, v in r.items() if k.endswith("_s")}
    print(f"cold      qa ask p50 {p50['ask_s']:.2f} s over {r['runs']} runs; import sentence_transformers p50 "
          f"{p50['import_st_s']:.2f} s; ask/import = {p50['ask_s'] / p50['import_st_s']:.0%}; qa --help {p50['help_s']:.2f} s")
    print(f"chat      first paint p50 {p50['chat_paint_s']:.2f} s, ready to answer p50 {p50['chat_ready_s']:.2f} s from launch")
    print(f"eval      qa eval questions/ccg.jsonl end to end p50 {p50['eval_s']:.2f} s")
    for name, w in r["warm"].items():
        print(f"warm      {name:5}: answer p50 {w['answer_ms_p50']:.1f} ms, question encoding p50 {w['encode_ms_p50']:.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    from qa.embed import get_embedder

    bench_cold(get_embedder("all-MiniLM-L6-v2"), args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
