"""Milvus against the local index (`python -m bench.run --only milvus`, or `python -m bench.milvus`).

    python -m bench.milvus [--questions questions/ccg.jsonl] [--corpus corpus] [--limit N]
    python -m bench.milvus --squad [--limit 3000] [--answers 300]
    python -m bench.milvus --scale 100000 [--queries 100]

Starts a milvus-lite server on a free loopback port in a temporary folder, builds the same corpus with the
real model into a local index folder and onto the server, then asks every question of both: the share
of questions whose first citation is the same, each backend's eval metrics, indexing time and search
latency p50/p95 (same process, same questions: the local index is the baseline).

--squad: the same on ../shared/bench/squad (the first 3,000 questions): indexing time (real model, each
backend embeds for itself) and search latency p50/p95 with both indexes open, the backends taking turns
per question, beside bare query encoding; the first citation compared on the first --answers questions.
--scale: storage and search at 100,000+ synthetic passages with stand-in vectors (bench.milvus_scale).
"""

from __future__ import annotations

import argparse
import json
import os
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
SQUAD = REPO.parent / "shared" / "bench" / "squad"


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


def squad(corpus: Path, questions_path: Path, limit: int, answers: int) -> dict:
    """Both backends over the SQuAD corpus: indexing time, search latency p50/p95, first citations."""
    from qa.config import Config
    from qa.embed import get_embedder
    from qa.evaluate import read_question_set
    from qa.index import sync
    from qa.session import open_session

    questions = [q.question for q in read_question_set(questions_path, limit)]
    out: dict = {"corpus": str(corpus), "questions": len(questions), "load_avg_start": os.getloadavg()[0]}
    embedder = get_embedder("all-MiniLM-L6-v2")
    embedder.encode_passages(["warm up the model"] * 32, [[(0, 4)]] * 32)
    with tempfile.TemporaryDirectory() as tmp, milvus_lite(Path(tmp)) as uri:
        local = Config(corpus_dir=corpus, index_dir=Path(tmp) / "index")
        cfgs = {"local": local, "milvus": replace(local, backend=uri, milvus_prefix="bench")}
        for name, cfg in cfgs.items():  # each backend embeds the corpus itself: the times compare whole builds
            t0 = time.perf_counter()
            out["passages"] = sync(cfg, lambda: embedder).passages_total
            out[f"{name}_index_s"] = round(time.perf_counter() - t0, 1)
        with open_session(cfgs["local"], sync="never", embedder=embedder) as a, \
                open_session(cfgs["milvus"], sync="never", embedder=embedder) as b:
            sessions = {"local": a, "milvus": b}
            out.update(_latencies({n: s.retriever for n, s in sessions.items()}, embedder, questions))
            firsts = {n: [_first(s.engine.ask(q)) for q in questions[:answers]] for n, s in sessions.items()}
        same = sum(x == y for x, y in zip(firsts["local"], firsts["milvus"]))
        out["answers_compared"] = len(firsts["local"])
        out["same_first_citation"] = round(same / max(len(firsts["local"]), 1), 4)
    out["load_avg_end"] = os.getloadavg()[0]
    return out


def _latencies(retrievers: dict, embedder, questions: list[str]) -> dict:
    """Search p50/p95 per backend (taking turns per question, query vectors not cached) and bare encoding."""
    for r in retrievers.values():
        for q in questions[:10]:
            r.search(q, k=10)
    times: dict[str, list[float]] = {name: [] for name in ("encode", *retrievers)}
    for q in questions:
        t = time.perf_counter()
        embedder.encode_queries([q])
        times["encode"].append((time.perf_counter() - t) * 1000)
        for name, r in retrievers.items():
            r._qcache.clear()
            t = time.perf_counter()
            r.search(q, k=10)
            times[name].append((time.perf_counter() - t) * 1000)
    return {f"{name}_search_ms_p{p}" if name != "encode" else f"encode_ms_p{p}": pct(v, p)
            for name, v in times.items() for p in (50, 95)}


def _first(answer) -> tuple | None:
    """The first citation of an answer (None when it declined or cites nothing)."""
    c = answer.citations[0] if answer.citations else None
    return (answer.kind, c.doc_id, c.start, c.end) if c else (answer.kind, None)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, default=REPO / "questions" / "ccg.jsonl")
    ap.add_argument("--corpus", type=Path, default=REPO / "corpus")
    ap.add_argument("--limit", type=int, default=None, help="questions (default: all; 3,000 with --squad)")
    ap.add_argument("--squad", action="store_true", help="both backends on ../shared/bench/squad")
    ap.add_argument("--answers", type=int, default=300, help="--squad: questions whose first citations are compared")
    ap.add_argument("--scale", type=int, default=None, metavar="PASSAGES", help="storage and search at this many passages")
    ap.add_argument("--queries", type=int, default=100, help="--scale: questions timed (each in 3 modes on 2 backends)")
    a = ap.parse_args(argv)
    if a.scale:
        from bench.milvus_scale import scale

        result = scale(a.scale, a.queries)
    elif a.squad:
        result = squad(SQUAD / "corpus", SQUAD / "questions.jsonl", a.limit or 3000, a.answers)
    else:
        result = compare(a.corpus, a.questions, a.limit)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
