"""Milvus against the local index (`python -m bench.run --only milvus`, or `python -m bench.milvus`).

    python -m bench.milvus [--questions questions/ccg.jsonl] [--corpus corpus] [--limit N]

Starts a milvus-lite server on a free loopback port in a temporary folder, builds the same corpus with the
real model into a local index folder and onto the server, then asks every question of both: the share
of questions whose first citation is the same, each backend's eval metrics, indexing time and search
latency p50/p95 (same process, same questions: the local index is the baseline).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def milvus_lite(workdir: Path) -> Iterator[str]:
    """A milvus-lite server on a free loopback port, stopped on exit; its URI."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(workdir / "milvus"),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 2) if values else 0.0


def compare(corpus: Path, questions_path: Path, limit: int | None) -> dict:
    """Build both backends over corpus and ask both every question."""
    from qa.config import Config
    from qa.embed import get_embedder
    from qa.evaluate import read_question_set, run_eval
    from qa.index import sync
    from qa.session import open_session

    questions = read_question_set(questions_path, limit)
    out: dict = {"corpus": str(corpus), "questions": str(questions_path), "n": len(questions)}
    with tempfile.TemporaryDirectory() as tmp, milvus_lite(Path(tmp)) as uri:
        local = Config(corpus_dir=corpus, index_dir=Path(tmp) / "index")
        remote = replace(local, backend=uri, milvus_prefix="bench")
        embedder = get_embedder(local.model)
        reports, firsts, latency = {}, {}, {}
        for name, cfg in (("local", local), ("milvus", remote)):
            t0 = time.perf_counter()
            built = sync(cfg, lambda: embedder)
            out[f"{name}_index_s"] = round(time.perf_counter() - t0, 1)
            out["passages"] = built.passages_total
            with open_session(cfg, sync="never") as session:
                times = []
                for q in questions:
                    t = time.perf_counter()
                    session.retriever.search(q.question, k=10)
                    times.append((time.perf_counter() - t) * 1000)
                latency[name] = times
                reports[name] = run_eval(session.engine, questions)
                firsts[name] = [_first(session.engine.ask(q.question, list(q.history), dates=q.dates)) for q in questions]
            out[f"{name}_search_ms_p50"], out[f"{name}_search_ms_p95"] = pct(times, 50), pct(times, 95)
            out[f"{name}_metrics"] = {k: round(v, 4) for k, v in reports[name]["metrics"].items()}
        same = sum(a == b for a, b in zip(firsts["local"], firsts["milvus"]))
        out["same_first_citation"] = round(same / max(len(questions), 1), 4)
        out["max_metric_gap_points"] = round(100 * max(
            abs(reports["local"]["metrics"][k] - reports["milvus"]["metrics"][k])
            for k in reports["local"]["metrics"] if not k.startswith("latency")), 2)
    return out


def _first(answer) -> tuple | None:
    """The first citation of an answer (None when it declined or cites nothing)."""
    c = answer.citations[0] if answer.citations else None
    return (answer.kind, c.doc_id, c.start, c.end) if c else (answer.kind, None)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, default=REPO / "questions" / "ccg.jsonl")
    ap.add_argument("--corpus", type=Path, default=REPO / "corpus")
    ap.add_argument("--limit", type=int, default=None)
    a = ap.parse_args(argv)
    result = compare(a.corpus, a.questions, a.limit)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
