"""Scale benchmark (`make bench-scale`): a corpus of 20,000+ passages made from SQuAD sentences.

    python -m bench.scale [--passages 20000] [--work DIR] [--queries 300] [--rebuild]

Reports indexing time and peak memory (`qa index` in a child process), search and answer latency
p50/p95 against bare query encoding in the same process, exact FAISS against HNSW on the same
vectors and queries (recall@10 and latency), and the resident memory of the chat with the index
open. The corpus and index are kept in --work (default ~/.cache/qa/scale) and reused when built.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.run import SQUAD, load_questions, pct

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")

CHAT_MEMORY = r"""
import asyncio, json, sys
from pathlib import Path
from qa.config import Config
from qa.tui.app import AnswerBox, create_app
from bench.scale import rss_mb

async def main():
    app = create_app(Config(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2])))
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        loaded = rss_mb()
        for q in sys.argv[3:]:
            app.query_one("#question").value = q
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
        answers = len(app.query(AnswerBox))
        print(json.dumps({"loaded_mb": loaded, "after_questions_mb": rss_mb(), "answers": answers}))

asyncio.run(main())
"""


def squad_sentences() -> list[str]:
    """Every sentence of the SQuAD articles (title lines left out), in order."""
    out: list[str] = []
    for path in sorted((SQUAD / "corpus").glob("*.txt")):
        lines = path.read_text(encoding="utf-8").split("\n")
        for para in lines[2:]:
            out.extend(s.strip() for s in SENTENCE_END.split(para) if s.strip())
    return out


def make_corpus(dest: Path, target_passages: int, seed: int = 0) -> int:
    """Write synthetic articles (runs of SQuAD sentences, shuffled) until about target_passages; their count."""
    from qa.segment import count_tokens

    sentences = squad_sentences()
    rng = random.Random(seed)
    need = target_passages * 110  # SQuAD's text makes one passage per 103 estimated tokens (overlap included)
    dest.mkdir(parents=True, exist_ok=True)
    tokens = 0.0
    n = 0
    while tokens < need:
        paras = []
        for _ in range(rng.randint(4, 9)):
            start = rng.randrange(len(sentences) - 6)
            paras.append(" ".join(sentences[start:start + rng.randint(2, 6)]))
        text = f"Synthetic article {n}\n\n" + "\n\n".join(paras) + "\n"
        (dest / f"synthetic-{n:05d}.txt").write_text(text, encoding="utf-8")
        tokens += count_tokens(text)
        n += 1
    return n


def build_index(corpus: Path, index: Path, stats_file: Path, rebuild: bool) -> dict:
    """Run `qa index` in a child process: wall time and peak resident memory (reused if already built)."""
    if stats_file.exists() and not rebuild:
        return json.loads(stats_file.read_text())
    cmd = [sys.executable, "-m", "qa", "index", "--corpus", str(corpus), "--index", str(index)]
    if rebuild:
        cmd.append("--rebuild")
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    manifest = json.loads((index / (index / "CURRENT").read_text().strip() / "manifest.json").read_text())
    stats = {
        "articles": len(manifest["articles"]), "passages": manifest["passages"], "sentences": manifest["sentences"],
        "index_seconds": seconds, "passages_per_s": manifest["passages"] / seconds, "index_peak_rss_mb": peak_mb,
        "faiss": manifest["faiss"],
    }
    stats_file.write_text(json.dumps(stats, indent=1))
    return stats


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def latency(cfg, questions: list[str]) -> dict:
    """Search and answer p50/p95, against bare query encoding, all in this process."""
    from qa.session import open_session

    before = rss_mb()
    engine = open_session(cfg, sync="never").engine
    retriever = engine.retriever
    engine.ask("warm up")
    loaded = rss_mb()
    enc, search, ask = [], [], []
    for q in questions:
        t0 = time.perf_counter()
        retriever.embedder.encode_queries([q])
        enc.append((time.perf_counter() - t0) * 1000)
        retriever._qcache.clear()
        t0 = time.perf_counter()
        retriever.search(q, k=10)
        search.append((time.perf_counter() - t0) * 1000)
        retriever._qcache.clear()
        t0 = time.perf_counter()
        engine.ask(q)
        ask.append((time.perf_counter() - t0) * 1000)
    return {
        "encode_ms_p50": pct(enc, 50), "encode_ms_p95": pct(enc, 95),
        "search_ms_p50": pct(search, 50), "search_ms_p95": pct(search, 95),
        "answer_ms_p50": pct(ask, 50), "answer_ms_p95": pct(ask, 95),
        "search_over_encode_p50": pct(search, 50) / pct(enc, 50),
        "process_rss_mb_model_and_index": loaded, "process_rss_mb_before_open": before,
    }


def faiss_recall(index_dir: Path, queries: np.ndarray, k: int = 10) -> list[dict]:
    """Exact inner-product search against HNSW on the same vectors: recall@k and per-query latency."""
    import faiss

    gen = index_dir / (index_dir / "CURRENT").read_text().strip()
    vectors = np.load(gen / "vectors.npy", allow_pickle=False)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    truth, truth_ids = exact.search(queries, k)
    rows = [{"index": "exact (IndexFlatIP)", "build_s": 0.0, "recall@10": 1.0, "ms_p50": _per_query_ms(exact, queries, k)}]
    t0 = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 80
    hnsw.add(vectors)
    build = time.perf_counter() - t0
    for ef in (32, 64, 128, 256):
        hnsw.hnsw.efSearch = ef
        got, _ = hnsw.search(queries, k)
        # a result counts when it scores at least the exact k-th score (ties between equal vectors are fine)
        recall = float(np.mean([(got[i] >= truth[i, -1] - 1e-5).sum() / k for i in range(len(queries))]))
        rows.append({"index": f"HNSW M=32 efSearch={ef}", "build_s": build, "recall@10": recall, "ms_p50": _per_query_ms(hnsw, queries, k)})
    return rows


def _per_query_ms(index, queries: np.ndarray, k: int) -> float:
    times = []
    for q in queries:
        t0 = time.perf_counter()
        index.search(q[None, :], k)
        times.append((time.perf_counter() - t0) * 1000)
    return pct(times, 50)


def chat_memory(corpus: Path, index: Path, questions: list[str]) -> dict:
    """Resident memory of the chat app (headless) with the index open, before and after a few questions."""
    res = subprocess.run([sys.executable, "-c", CHAT_MEMORY, str(corpus), str(index), *questions],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--passages", type=int, default=20_000)
    p.add_argument("--work", type=Path, default=Path.home() / ".cache" / "qa" / "scale")
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--rebuild", action="store_true")
    a = p.parse_args()
    from qa.config import Config
    from qa.embed import get_embedder

    corpus, index = a.work / f"corpus-{a.passages}", a.work / f"index-{a.passages}"
    if not corpus.is_dir():
        print(f"writing a synthetic corpus of about {a.passages:,} passages to {corpus}", flush=True)
        make_corpus(corpus, a.passages)
    print("indexing (qa index in a child process; this takes a while the first time)", flush=True)
    stats = build_index(corpus, index, a.work / f"index-{a.passages}.json", a.rebuild)
    questions = [q["question"] for q in load_questions(SQUAD / "questions.jsonl", a.queries)]
    cfg = Config(corpus_dir=corpus, index_dir=index)
    lat = latency(cfg, questions)
    qvecs = get_embedder(cfg.model).encode_queries(questions)
    faiss_rows = faiss_recall(index, qvecs)
    chat = chat_memory(corpus, index, questions[:5])
    res = {"index": stats, "latency": lat, "faiss": faiss_rows, "chat": chat}
    print(json.dumps(res, indent=1))
    print(f"\nscale     {stats['passages']:,} passages in {stats['articles']:,} articles: indexed in "
          f"{stats['index_seconds'] / 60:.1f} min ({stats['passages_per_s']:.1f} passages/s), peak RSS "
          f"{stats['index_peak_rss_mb']:.0f} MB, FAISS {stats['faiss']}")
    print(f"          search p50 {lat['search_ms_p50']:.1f} ms / p95 {lat['search_ms_p95']:.1f} ms "
          f"(bare query encoding p50 {lat['encode_ms_p50']:.1f} ms, ratio {lat['search_over_encode_p50']:.2f}); "
          f"answer p50 {lat['answer_ms_p50']:.1f} ms / p95 {lat['answer_ms_p95']:.1f} ms")
    for row in faiss_rows:
        print(f"          {row['index']:<26} recall@10 {row['recall@10']:.3f}  p50 {row['ms_p50']:.2f} ms  build {row['build_s']:.1f} s")
    print(f"          chat RSS {chat['loaded_mb']:.0f} MB with the index open, {chat['after_questions_mb']:.0f} MB after 5 questions")
    return res


if __name__ == "__main__":
    main()
