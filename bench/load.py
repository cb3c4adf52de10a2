"""Answer latency under load: a question encoded by ONNX Runtime on one thread (qa's setting), and by torch on
one thread (qa's setting when there is no ONNX export) against on every core.

    python -m bench.load [--questions N] [--spinners K]

Measured idle, then with K competing CPU-bound processes (`while True: pass`, ended after the run
and bounded in time in any case). In each condition every question is asked with both settings,
in alternating order, so all see the same machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

REPO = Path(__file__).resolve().parent.parent
# SentenceTransformerEmbedder.query_threads for torch; the ONNX encoder always runs on one thread
SETTINGS = {"torch, every core": None, "torch, one thread": 1, "onnx, one thread (qa)": "onnx"}
SPIN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


@contextmanager
def competing(spinners: int, seconds: float = 600) -> Iterator[None]:
    """Run `spinners` CPU-bound child processes for the block (each exits by itself after `seconds`)."""
    procs = [subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=seconds)]) for _ in range(spinners)]
    try:
        time.sleep(0.5)  # let them start spinning
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def time_settings(torch_engine, onnx_engine, questions: list[str]) -> dict[str, dict[str, list[float]]]:
    """Per setting, the answer and query-encoding times (ms) of every question."""
    times: dict[str, dict[str, list[float]]] = {name: {"answer": [], "encode": []} for name in SETTINGS}
    for i, question in enumerate(questions):
        order = list(SETTINGS.items())
        for name, threads in order if i % 2 == 0 else order[::-1]:
            engine = onnx_engine if threads == "onnx" else torch_engine
            embedder, retriever = engine.retriever.embedder, engine.retriever
            if threads != "onnx":
                embedder.query_threads = threads
            t0 = time.perf_counter()
            embedder.encode_queries([question])
            times[name]["encode"].append((time.perf_counter() - t0) * 1000)
            retriever.__dict__.get("_qcache", {}).clear()  # each answer encodes its question itself
            t0 = time.perf_counter()
            engine.ask(question)
            times[name]["answer"].append((time.perf_counter() - t0) * 1000)
    torch_engine.retriever.embedder.query_threads = SETTINGS["torch, one thread"]
    return times


def summary(times: dict[str, list[float]]) -> dict[str, float]:
    return {f"{kind}_ms_{label}": float(np.percentile(values, q))
            for kind, values in times.items() for label, q in (("p50", 50), ("p95", 95))}


def bench_load(questions: list[str], spinners: int = 1) -> dict:
    """p50/p95 of `engine.ask` and of query encoding, idle and under load, for each encoder and thread setting
    (the torch session, opened with an injected model, has no reader: its short answers are the linear scorer's)."""
    from qa.config import Config
    from qa.embed import get_embedder
    from qa.session import open_session

    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config(corpus_dir=REPO / "corpus", index_dir=Path(tmp) / "index")
        with open_session(cfg) as onnx, open_session(cfg, sync="never", embedder=get_embedder(cfg.model)) as torch:
            for question in questions[:5]:  # warm up
                onnx.engine.ask(question)
                torch.engine.ask(question)
            results: dict = {"questions": len(questions), "spinners": spinners}
            results["idle"] = {name: summary(t) for name, t in time_settings(torch.engine, onnx.engine, questions).items()}
            with competing(spinners):
                loaded = time_settings(torch.engine, onnx.engine, questions)
                results["loaded"] = {name: summary(t) for name, t in loaded.items()}
    for condition in ("idle", "loaded"):
        for name, s in results[condition].items():
            print(f"load      {condition:<6} {name:<22} answer p50 {s['answer_ms_p50']:7.1f} ms, p95 {s['answer_ms_p95']:7.1f} ms; "
                  f"query encoding p50 {s['encode_ms_p50']:7.1f} ms, p95 {s['encode_ms_p95']:7.1f} ms")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=75, help="how many of questions/ccg.jsonl")
    parser.add_argument("--spinners", type=int, default=1, help="competing CPU-bound processes")
    args = parser.parse_args(argv)
    with (REPO / "questions" / "ccg.jsonl").open(encoding="utf-8") as fh:
        questions = [json.loads(line)["question"] for line in fh if line.strip()][: args.questions]
    bench_load(questions, args.spinners)
    return 0


if __name__ == "__main__":
    sys.exit(main())
