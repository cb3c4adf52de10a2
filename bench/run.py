"""Benchmarks (`make bench`): figures and ratios against baselines measured in the same process.

    python -m bench.run [--corpus DIR] [--questions FILE] [--queries N] [--only squad,seed,chat,load,cold,milvus,short] [--load-questions N]

squad: indexing, search and answer latency on the SQuAD corpus; seed: answers over the five seed
articles; chat: the chat's timings (bench.chat); load: answer latency idle and under CPU load, with
questions encoded on one thread and on every core (bench.load); cold: a new process answering on a
built index, `qa ask` against `import sentence_transformers`, chat ready time, warm ONNX vs torch (bench.cold);
milvus: a milvus-lite server beside the local index, on the seed corpus and on SQuAD (bench.milvus).
short: short-answer exact match and F1 end to end on squad (first 3,000) and news-dev's validation part, against
the first quote's longest span of the wanted type (bench.short).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SQUAD = REPO.parent / "shared" / "bench" / "squad"
OWN_QUESTIONS = REPO / "questions" / "ccg.jsonl"
SECTIONS = ("squad", "seed", "chat", "load", "cold", "milvus", "short")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def load_questions(path: Path, n: int) -> list[dict]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(json.loads(line))
            if len(out) >= n:
                break
    return out


def bench_index(corpus: Path, index_dir: Path, embedder) -> dict:
    """qa's full sync (read, clean, split, embed, write) against bare model.encode of the same passages."""
    from qa.config import Config
    from qa.index import sync
    from qa.session import open_session

    cfg = Config(corpus_dir=corpus, index_dir=index_dir)
    embedder.encode_passages(["warm up the model"] * 64, [[(0, 4)]] * 64)
    t0 = time.perf_counter()
    report = sync(cfg, lambda: embedder, rebuild=True)  # what is measured: the sync alone
    qa_seconds = time.perf_counter() - t0
    with open_session(cfg, sync="never", embedder=embedder) as session:
        texts = [p.text for p in session.passages()]
    tokens = sum(len(ids) for ids in embedder.model.tokenizer(texts, truncation=True, max_length=embedder.model.max_seq_length)["input_ids"])
    t0 = time.perf_counter()
    embedder.model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    plain_seconds = time.perf_counter() - t0
    n = report.passages_total
    return {
        "articles": len(report.plan.added), "passages": n, "tokens": tokens,
        "qa_seconds": qa_seconds, "qa_passages_per_s": n / qa_seconds, "qa_tokens_per_s": tokens / qa_seconds,
        "plain_seconds": plain_seconds, "plain_passages_per_s": n / plain_seconds,
        "ratio": plain_seconds / qa_seconds,
    }


def bench_search(index_dir: Path, corpus: Path, embedder, questions: list[dict]) -> dict:
    """Search latency (hybrid, model loaded) against the bare query encoding time."""
    from qa.config import Config
    from qa.session import open_session

    with open_session(Config(corpus_dir=corpus, index_dir=index_dir), sync="never", embedder=embedder) as session:
        return _time_search(session.retriever, embedder, questions)


def _time_search(retriever, embedder, questions: list[dict]) -> dict:
    for q in questions[:10]:
        retriever.search(q["question"], k=10)
    encode, search = [], []
    for q in questions:
        t0 = time.perf_counter()
        embedder.encode_queries([q["question"]])
        encode.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        retriever.search(q["question"], k=10)
        search.append((time.perf_counter() - t0) * 1000)
    return {
        "queries": len(questions), "passages": retriever.index.size,
        "search_ms_p50": pct(search, 50), "search_ms_p95": pct(search, 95),
        "encode_ms_p50": pct(encode, 50), "encode_ms_p95": pct(encode, 95),
        "overhead_p50": pct(search, 50) / pct(encode, 50) - 1,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SQUAD / "corpus")
    parser.add_argument("--questions", type=Path, default=SQUAD / "questions.jsonl")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "latest.json")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}")
    parser.add_argument("--load-questions", type=int, default=75, help="questions per condition in the load section")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    if not only <= set(SECTIONS):
        print(f"error: --only takes some of {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    if "squad" in only and not args.corpus.is_dir():
        print(f"error: benchmark corpus {args.corpus} not found: pass --corpus DIR", file=sys.stderr)
        return 2
    from qa.embed import get_embedder

    t0 = time.perf_counter()
    embedder = get_embedder("all-MiniLM-L6-v2")
    results: dict = {"model_load_s": time.perf_counter() - t0}
    if "squad" in only:
        questions = load_questions(args.questions, args.queries) if args.questions.is_file() else []
        results.update(bench_squad(args.corpus, questions, embedder))
    if "seed" in only:
        results["answer_seed"] = bench_seed(embedder)
    if "chat" in only:
        from bench.chat import main as bench_chat

        results["chat"] = bench_chat()
    if "load" in only:
        from bench.load import bench_load

        results["load"] = bench_load([q["question"] for q in load_questions(OWN_QUESTIONS, args.load_questions)])
    if "cold" in only:
        from bench.cold import bench_cold

        results["cold"] = bench_cold(embedder)
    if "milvus" in only:  # the Milvus backend beside the local index: same answers, index time, search latency
        from bench.milvus import compare, squad

        results["milvus"] = compare(REPO / "corpus", OWN_QUESTIONS, None)
        if (SQUAD / "corpus").is_dir():  # indexing and search p50/p95 on SQuAD, both backends (~6 min)
            results["milvus_squad"] = squad(SQUAD / "corpus", SQUAD / "questions.jsonl", 3000, 300)
    if "short" in only:
        from bench.short import run as bench_short

        results["short"] = bench_short("both", 3000)
        print(json.dumps(results["short"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"results written to {args.out}")
    return 0


def bench_squad(corpus: Path, questions: list[dict], embedder) -> dict:
    """Indexing the SQuAD corpus, then search and answer latency over it."""
    from bench.answer import bench_answer

    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        results["index"] = r = bench_index(corpus, index_dir, embedder)
        print(f"indexing  {r['passages']} passages, {r['tokens']} tokens: qa {r['qa_passages_per_s']:.1f} passages/s "
              f"({r['qa_tokens_per_s']:.0f} tokens/s, {r['qa_seconds']:.1f} s); plain encode "
              f"{r['plain_passages_per_s']:.1f} passages/s ({r['plain_seconds']:.1f} s); qa/plain = {r['ratio']:.2f}")
        if questions:
            results["search"] = s = bench_search(index_dir, corpus, embedder, questions)
            print(f"search    {s['queries']} queries over {s['passages']} passages: p50 {s['search_ms_p50']:.1f} ms, "
                  f"p95 {s['search_ms_p95']:.1f} ms; bare query encoding p50 {s['encode_ms_p50']:.1f} ms, "
                  f"p95 {s['encode_ms_p95']:.1f} ms; overhead {s['overhead_p50']:.0%}")
            results["answer"] = bench_answer(index_dir, corpus, questions)
    return results


def bench_seed(embedder) -> dict:
    """Answer latency over the five seed articles, with the project's question set."""
    from bench.answer import bench_answer
    from qa.config import Config
    from qa.session import open_session

    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config(corpus_dir=REPO / "corpus", index_dir=Path(tmp) / "index")
        open_session(cfg, embedder=embedder).close()  # build the index
        return bench_answer(cfg.index_dir, cfg.corpus_dir, load_questions(OWN_QUESTIONS, 10_000))


if __name__ == "__main__":
    sys.exit(main())
