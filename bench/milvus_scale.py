"""Storage and search at scale, milvus-lite beside the local index (`python -m bench.milvus --scale 100000`).

    python -m bench.milvus --scale 100000 [--queries 100]

A synthetic corpus as in bench.scale (runs of SQuAD sentences, kept in ~/.cache/qa/scale/corpus-N) is
built into a local index folder (FAISS + bm25s + SQLite) and onto a milvus-lite server, both through
qa.index.sync: the real schemas, insert code and index choices of qa and qa.milvus. Embedding 100,000
passages with the real model takes over an hour on a 2-core CPU, so the passages get STAND-IN vectors:
the real vector of a passage (and of its sentences) of an index built earlier with the real model, chosen
by a hash of the text, plus Gaussian noise, renormalised; both backends get the same ones. Questions are
encoded by the real model. So the run measures storage and search (build time, search p50/p95 for dense,
BM25 and fused search, disk and memory), not answer quality.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.milvus import milvus_lite, pct

NOISE = 0.01  # per dimension: a copy's cosine to its source is about 0.96 at 384 dimensions
MODES = ("dense", "bm25", "hybrid")


class StandInEmbedder:
    """Passage and sentence vectors drawn from a real build's vectors (plus noise); questions by the real model."""

    def __init__(self, real, pool: Path) -> None:
        self.real, self.name, self.dim = real, real.name, real.dim
        self.vectors = np.load(pool / "vectors.npy").astype(np.float32)
        self.sentvecs = np.load(pool / "sentvecs.npy").astype(np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """One real vector per question."""
        return self.real.encode_queries(texts)

    def encode_passages(self, texts, spans, batch_size: int = 32, progress=None) -> tuple[np.ndarray, np.ndarray]:
        """A stand-in vector per passage and per sentence span."""
        seeds = [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little") for t in texts]
        passages, sentences = [], []
        for seed, ss in zip(seeds, spans):  # noise seeded by the text: the same vectors however the build batches
            rng = np.random.default_rng(seed)
            passages.append(self._noisy(self.vectors[[seed % len(self.vectors)]], rng))
            sentences.append(self._noisy(self.sentvecs[[(seed + j) % len(self.sentvecs) for j in range(len(ss))]], rng))
        if progress:
            progress(len(texts))
        empty = np.zeros((0, self.dim), np.float32)
        return np.concatenate(passages or [empty]), np.concatenate(sentences or [empty]).astype(np.float16)

    def _noisy(self, base: np.ndarray, rng) -> np.ndarray:
        out = base + rng.normal(0.0, NOISE, base.shape).astype(np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def real_pool() -> Path:
    """The live generation of the largest index built with the real model under ~/.cache/qa/eval (qa eval's cache)."""
    import json

    best, size = None, 0
    for current in (Path.home() / ".cache" / "qa" / "eval").glob("*/CURRENT"):
        gen = current.parent / current.read_text().strip()
        manifest = json.loads((gen / "manifest.json").read_text())
        if manifest.get("model") == "all-MiniLM-L6-v2" and manifest["passages"] > size:
            best, size = gen, manifest["passages"]
    if best is None:
        raise SystemExit("no index built with the real model under ~/.cache/qa/eval: run "
                         "`qa eval ../shared/bench/squad/questions.jsonl --corpus ../shared/bench/squad/corpus --limit 10` first")
    return best


def scale(passages: int, queries: int) -> dict:
    """Build the synthetic corpus on both backends with stand-in vectors; time builds and searches."""
    from bench.run import SQUAD, load_questions
    from bench.scale import make_corpus
    from qa.config import Config
    from qa.embed import get_embedder
    from qa.index import sync
    from qa.session import open_session

    corpus = Path.home() / ".cache" / "qa" / "scale" / f"corpus-{passages}"
    if not corpus.is_dir():
        print(f"writing a synthetic corpus of about {passages:,} passages to {corpus}", flush=True)
        make_corpus(corpus, passages)
    pool = real_pool()
    embedder = StandInEmbedder(get_embedder("all-MiniLM-L6-v2"), pool)
    questions = [q["question"] for q in load_questions(SQUAD / "questions.jsonl", queries)]
    out: dict = {"corpus": str(corpus), "vectors": f"stand-in: {pool} ({len(embedder.vectors)} passages) + noise {NOISE}",
                 "load_avg_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp, milvus_lite(Path(tmp)) as uri:
        local = Config(corpus_dir=corpus, index_dir=Path(tmp) / "index")
        cfgs = {"local": local, "milvus": replace(local, backend=uri, milvus_prefix="scale")}
        for name, cfg in cfgs.items():
            print(f"building {name}", flush=True)
            t0 = time.perf_counter()
            report = sync(cfg, lambda: embedder)
            out[f"{name}_build_s"] = round(time.perf_counter() - t0, 1)
            out["passages"], out["articles"] = report.passages_total, len(report.plan.added)
            out[f"{name}_load_avg"] = os.getloadavg()[0]
            print(f"  {name}: {out['passages']:,} passages in {out[f'{name}_build_s']} s (load {out[f'{name}_load_avg']:.1f})",
                  flush=True)
        out["local_disk_mb"] = _du(Path(tmp) / "index")
        out["milvus_disk_mb"] = _du(Path(tmp) / "milvus")
        out["milvus_settle_s"] = _wait_idle(uri)  # the server finishes its own work on the new collections first
        before = _rss_kb(os.getpid())
        with open_session(cfgs["local"], sync="never", embedder=embedder) as a, \
                open_session(cfgs["milvus"], sync="never", embedder=embedder) as b:
            out["client_rss_mb_both_open"] = round((_rss_kb(os.getpid()) - before) / 1024)
            out["faiss"] = a.retriever.index.manifest.get("faiss")
            out.update(_search_times({"local": a.retriever, "milvus": b.retriever}, questions))
        out["milvus_server_rss_mb"], out["milvus_server_peak_mb"] = _server_memory(uri)
    out["load_avg_end"] = os.getloadavg()[0]
    return out


def _search_times(retrievers: dict, questions: list[str]) -> dict:
    """p50/p95 of each search mode on each backend, the backends taking turns per question (vectors cached:
    the question's encoding is left out, as it is the same for both)."""
    for r in retrievers.values():
        r.prime(questions)
        for q in questions[:10]:
            r.search(q, k=10)
    times = {(n, m): [] for n in retrievers for m in MODES}
    for i, q in enumerate(questions):
        if i % 50 == 0:
            print(f"  searching: {i}/{len(questions)} questions", flush=True)
        for mode in MODES:
            for name, r in retrievers.items():
                t = time.perf_counter()
                r.search(q, k=10, mode=mode)
                times[(name, mode)].append((time.perf_counter() - t) * 1000)
    return {f"{n}_{m}_ms_p{p}": pct(v, p) for (n, m), v in times.items() for p in (50, 95)}


def _du(path: Path) -> int:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20)


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _server_pids(uri: str) -> list[int]:
    """The milvus-lite processes serving uri's port."""
    port = uri.rsplit(":", 1)[1]
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"milvus" in c for c in cmd) and port.encode() in cmd:
            pids.append(int(proc.name))
    return pids


def _server_memory(uri: str) -> tuple[int, int]:
    """Resident and peak memory (MB) of the milvus-lite processes serving uri's port."""
    pids = _server_pids(uri)
    return round(sum(_rss_kb(p) for p in pids) / 1024), round(sum(_rss_kb(p, "VmHWM") for p in pids) / 1024)


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds the processes have used (user + system)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _wait_idle(uri: str, below: float = 0.1, step: float = 5.0, limit: float = 900.0) -> float:
    """Seconds until the server uses under `below` of a core over `step` seconds (at most `limit`)."""
    pids, t0 = _server_pids(uri), time.perf_counter()
    while time.perf_counter() - t0 < limit:
        used = _cpu_s(pids)
        time.sleep(step)
        if _cpu_s(pids) - used < below * step:
            break
    print(f"  server settled after {time.perf_counter() - t0:.0f} s", flush=True)
    return round(time.perf_counter() - t0, 1)

