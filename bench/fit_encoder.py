"""Fit the retrieval encoder: low-rank deltas to the embedding model, so questions land nearer their passages.

    python -m bench.fit_encoder [--rank 16] [--epochs 1] [--squad 4000] [--squad-from 0] [--news-repeat 2]
                                [--lr 5e-4] [--start DELTAS] [--out qa/encoder.safetensors]

The shipped deltas are `python -m bench.fit_encoder` (about 25 minutes on 2 cores); `qa.embed` adds them to
the model's weights when it loads the default model, so passages, their sentences and questions are all
encoded by the fitted model (an index built before is rebuilt: its manifest names other weights).

Training data: news-dev's first 1,497 questions (quizzes before 2022-07, repeated --news-repeat times) and
--squad questions drawn from squad-train's all but last 2,000 (Wikipedia; no article shared with bench/squad),
each paired with a passage of its gold article that holds its evidence (qa's own passages, from the cached
evaluation index) and a hard negative: one of the 4 passages the unfitted model ranks highest that is not
relevant and holds no gold answer. With --start (deltas fitted before, to go on from) the negatives are the ones
the model with those deltas ranks highest: a second round learns the passages the first still confuses. The loss
is a softmax over the batch's passages (its other questions' positives and every hard negative; in-batch
negatives, scale 20). Validation, printed and written beside the
weights, before and after: dense passage hit@1 and MRR@10 on news-dev's last 482 questions and squad-train's
last 2,000, neither trained on. Nothing here reads bench/squad or questions/ccg.jsonl.
"""

from __future__ import annotations

import argparse
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.fit import NEWS_TRAIN, SHARED, open_cached
from bench.fit_reader import descend, lora_layers, save, start_fit
from qa.deltas import file_digest

OUT = Path(__file__).resolve().parent.parent / "qa" / "encoder.safetensors"
HELDOUT = 2000  # squad-train's last questions: validation only
SCALE = 20.0  # cosine similarities times this, before the softmax
BATCH = 32
MAX_SEQ = 256  # tokens of a passage, as the index encodes them


@dataclass(frozen=True)
class Corpus:
    """A corpus's passages as qa indexes them."""

    docs: list[str]
    texts: list[str]


@dataclass(frozen=True)
class Pair:
    """One training example: a question, a passage answering it, and a passage that looks as if it does."""

    question: str
    positive: str
    negative: str
    source: str


def load_corpus(corpus: Path) -> Corpus:
    """qa's passages of a corpus (from its cached evaluation index, built on first use)."""
    session = open_cached(corpus)
    rows = list(session.engine.retriever.index.store.iter_passages())
    session.close()
    return Corpus([r.doc_id for r in rows], [r.text for r in rows])


def relevant(questions: list, corpus: Corpus) -> list[list[int]]:
    """For each question, the passages `qa eval` counts as finding it."""
    from qa.evaluate import passage_relevant

    by_doc: dict[str, list[int]] = {}
    for i, d in enumerate(corpus.docs):
        by_doc.setdefault(d, []).append(i)
    return [[i for d in q.doc_ids for i in by_doc.get(d, []) if passage_relevant(q, d, corpus.texts[i])]
            for q in questions]


def embed(st, texts: list[str], batch: int = 64) -> np.ndarray:
    """Normalised vectors of texts, shortest first in batches."""
    import torch

    vecs = np.zeros((len(texts), st.get_embedding_dimension()), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            v = st(st.preprocess([texts[i] for i in idx]))["sentence_embedding"]
            vecs[idx] = torch.nn.functional.normalize(v, dim=-1).numpy()
    return vecs


def ranking(sims: np.ndarray, rel: list[list[int]]) -> dict:
    """hit@1 and MRR@10 of dense passage rankings."""
    hits, rr = [], []
    for row, r in zip(sims, rel):
        top = np.argsort(-row)[:10]
        rank = next((k for k, t in enumerate(top) if t in set(r)), None)
        hits.append(rank == 0)
        rr.append(0.0 if rank is None else 1.0 / (rank + 1))
    return {"n": len(rel), "hit@1": round(float(np.mean(hits)), 4), "mrr@10": round(float(np.mean(rr)), 4)}


def validate(st, sets: dict) -> dict:
    """Dense hit@1 / MRR@10 on each validation set: {name: figures}."""
    out = {}
    for name, (questions, rel, corpus) in sets.items():
        sims = embed(st, [q.question for q in questions]) @ embed(st, corpus.texts).T
        out[name] = ranking(sims, rel)
    return out


def hard_negatives(st, questions: list, rel: list[list[int]], corpus: Corpus, keep: int = 4) -> list[list[int]]:
    """For each question, the passages the model ranks highest that are not relevant and hold no gold answer."""
    from qa.evaluate import contains_any

    sims = embed(st, [q.question for q in questions]) @ embed(st, corpus.texts).T
    out = []
    for q, row, r in zip(questions, sims, rel):
        top = (int(t) for t in np.argsort(-row)[:30])
        out.append([t for t in top if t not in set(r) and not contains_any(corpus.texts[t], q.answers)][:keep])
    return out


def pairs(st, questions: list, corpus: Corpus, source: str, repeat: int, rng: random.Random) -> list[Pair]:
    """Training pairs: each question with one relevant passage and one hard negative, `repeat` times."""
    rel = relevant(questions, corpus)
    negs = hard_negatives(st, questions, rel, corpus)
    return [Pair(q.question, corpus.texts[rng.choice(r)], corpus.texts[rng.choice(n)], source)
            for _ in range(repeat) for q, r, n in zip(questions, rel, negs) if r and n]


def train(st, data: list[Pair], epochs: int, lr: float, rng: random.Random, log) -> None:
    """AdamW, one-cycle; each batch is of one source, its loss a softmax over all the batch's passages."""
    import torch

    params = [p for p in st.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    by_source: dict[str, list[int]] = {}
    for i, p in enumerate(data):
        by_source.setdefault(p.source, []).append(i)
    steps = epochs * sum(math.ceil(len(v) / BATCH) for v in by_source.values())
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    step = 0
    for _ in range(epochs):
        plan = []
        for idx in by_source.values():
            idx = idx[:]
            rng.shuffle(idx)
            plan += [idx[k:k + BATCH] for k in range(0, len(idx), BATCH)]
        rng.shuffle(plan)
        st.train()
        for batch in plan:
            items = [data[i] for i in batch]
            docs = [p.positive for p in items] + [p.negative for p in items]
            q = torch.nn.functional.normalize(st(st.preprocess([p.question for p in items]))["sentence_embedding"], dim=-1)
            d = torch.nn.functional.normalize(st(st.preprocess(docs))["sentence_embedding"], dim=-1)
            scores = q @ d.T * SCALE
            same = torch.tensor([[c != a and docs[c] == p.positive for c in range(len(docs))] for a, p in enumerate(items)])
            loss = torch.nn.functional.cross_entropy(scores.masked_fill(same, -1e4), torch.arange(len(items)))
            step = descend(opt, sched, loss, step, steps, log, every=25)
    st.eval()


def resume(wrapped: dict, path: Path, rank: int) -> dict:
    """Load deltas fitted before into the wrapped layers (same rank); what they were (their file's digest, training
    and validation) for the record."""
    import json

    from safetensors.torch import load_file

    from qa.config import DEFAULT_MODEL

    fitted = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    if int(fitted["rank"]) != rank or sorted(fitted["targets"]) != sorted(wrapped):
        raise SystemExit(f"{path} has rank {fitted['rank']} deltas for other layers: fit with --rank {fitted['rank']}")
    if fitted.get("model") != DEFAULT_MODEL or float(fitted["alpha"]) != float(rank):
        raise SystemExit(f"{path} was fitted for {fitted.get('model')} with alpha {fitted['alpha']}: start from {DEFAULT_MODEL}'s")
    tensors = load_file(str(path))
    for name, layer in wrapped.items():
        layer.lora_a.data.copy_(tensors[f"{name}.lora_a"].float())
        layer.lora_b.data.copy_(tensors[f"{name}.lora_b"].float())
    stat = path.stat()
    return {"sha256": file_digest(path, stat.st_size, stat.st_mtime_ns), "training": fitted.get("training"),
            "validation": fitted.get("validation")}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--squad", type=int, default=4000, help="squad-train questions drawn for training")
    ap.add_argument("--squad-from", type=int, default=0, help="where in the drawn order they start (another round: others)")
    ap.add_argument("--news-repeat", type=int, default=2, help="times each news-dev training question is used")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--start", type=Path, help="deltas fitted before (with their .json) to go on from")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.start and args.start.resolve() == args.out.resolve():
        ap.error(f"--out would overwrite --start {args.start}: write the new round elsewhere (--out FILE)")

    from sentence_transformers import SentenceTransformer

    from qa.config import DEFAULT_MODEL
    from qa.embed import resolve_model
    from qa.evaluate import load_questions

    log = start_fit()
    rng = random.Random(0)

    news = list(load_questions(SHARED / "news-dev" / "questions.jsonl"))
    squad = list(load_questions(SHARED / "squad-train" / "questions.jsonl"))
    news_corpus, squad_corpus = load_corpus(SHARED / "news-dev" / "corpus"), load_corpus(SHARED / "squad-train" / "corpus")
    pool = squad[:-HELDOUT]
    rng.shuffle(pool)
    held = {"news-dev last 482": (news[NEWS_TRAIN:], relevant(news[NEWS_TRAIN:], news_corpus), news_corpus),
            f"squad-train last {HELDOUT}": (squad[-HELDOUT:], relevant(squad[-HELDOUT:], squad_corpus), squad_corpus)}

    st = SentenceTransformer(str(resolve_model(DEFAULT_MODEL)), device="cpu")
    st.max_seq_length = MAX_SEQ
    st[0].auto_model.set_attn_implementation("eager")
    st.eval()
    wrapped = lora_layers(st[0].auto_model, args.rank, float(args.rank))  # the deltas start at zero: the same model
    start = resume(wrapped, args.start, args.rank) if args.start else None
    before = validate(st, held)
    log(f"validation before: {before}")
    data = (pairs(st, news[:NEWS_TRAIN], news_corpus, "news", args.news_repeat, rng)
            + pairs(st, pool[args.squad_from:args.squad_from + args.squad], squad_corpus, "squad", 1, rng))
    log(f"{len(data)} training pairs; {len(wrapped)} layers with rank-{args.rank} deltas")
    train(st, data, args.epochs, args.lr, rng, log)
    after = validate(st, held)
    log(f"validation after: {after}")
    payload = {
        "model": DEFAULT_MODEL, "rank": args.rank, "alpha": float(args.rank), "targets": sorted(wrapped),
        "training": {"news-dev first": NEWS_TRAIN, "news_repeat": args.news_repeat, "squad-train drawn": args.squad, "squad_from": args.squad_from,
                     "pairs": len(data), "epochs": args.epochs, "lr": args.lr, "batch": BATCH, "scale": SCALE,
                     "start": start},
        "validation": {"measure": "dense passage ranking, hit@1 / MRR@10", "before": before, "after": after},
    }
    save(wrapped, None, payload, args.out)
    log(f"wrote {args.out} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
