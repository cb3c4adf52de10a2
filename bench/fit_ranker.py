"""Experiment, not shipped: a passage ranker, a cross-encoder reading the question and each of the engine's best
passages together (docs/benchmarks.md, round 13).

    python -m bench.fit_ranker [gather] [train] [measure] [--squad 3000] [--candidates 4] [--epochs 1] [--out FILE]

All three steps by default (about 40 minutes on 2 cores), writing --out (ranker.safetensors here) and its .json.

1. gather: each question is asked of its corpus as `qa eval` asks it; the engine's best `TOP` passages (in the
   engine's own order: the first `k_passages` by their best sentence, then retrieval order) are kept with their
   text, headline and the engine's scores, and whether each is relevant (qa eval's rule: a gold article's passage
   holding the evidence; a copy folded into it counts). Written to --cache as JSON lines.
   Training: news-dev's first 1,497 quizzes (before 2022-07) and squad-train's first --squad questions.
   Validation: news-dev's last 482 and squad-train's last 2,000 (never fitted on by any of qa's models).
2. train: low-rank deltas to the packaged embedding model (as the reader's, `bench.fit_reader.lora_layers`) and a
   one-output head on [CLS]; the loss is a softmax over each question's candidates (the relevant ones and the
   engine's best-ranked others, `--candidates` in all) that should fall on a relevant one.
3. measure: the engine's first k passages reordered by their place less w times the ranker's score (as
   an engine would); w and k are chosen on squad-train's held-out 2,000 by hit@1 and written into the .json
   (`weight`, `top`), with news-dev validation's figures, which are not chosen on.
Nothing here reads bench/squad or questions/ccg.jsonl.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.fit import NEWS_TRAIN, SHARED, open_cached

TOP = 8  # the engine's passages kept for each question
TOPS = (3, 5, 8)  # how many of them the ranker may reorder
WEIGHTS = (0.25, 0.5, 1.0, 2.0, 4.0, 100.0)  # its score's weight against the engine's order (a place is 1)
HELDOUT = 2000
MAX_LENGTH = 256
CACHE = Path.home() / ".cache" / "qa" / "ranker"
OUT = Path("ranker.safetensors")


def passage_text(title: str, text: str) -> str:
    """What the ranker reads of a passage: its article's headline, then the passage."""
    return f"{title}. {text}" if title else text


@dataclass
class Group:
    """A question and the engine's best passages for it, in the engine's order."""

    set: str
    id: str
    question: str
    texts: list[str]
    relevant: list[bool]
    best: list[float]  # each passage's best sentence score
    fused: list[float]  # its retrieval score


def gather_set(name: str, corpus: Path, questions: list, log) -> list[Group]:
    """The engine's best TOP passages for each question, as `qa eval` would rank them."""
    from qa.answer.scoring import rerank
    from qa.evaluate import passage_relevant

    engine = open_cached(corpus).engine
    titles = {a.doc_id: a.title for a in engine.store.listing()}
    out = []
    for k, q in enumerate(questions):
        u = engine.understand(q.question, list(q.history))
        found = engine.retrieve(u, report_k=10)
        scored = engine.score(u, found.hits)
        n = engine.tuning.k_passages
        best = dict(zip((h.passage.id for h in found.hits[:n]), scored.best))
        ranked = (rerank(found.hits[:n], scored.best, engine.tuning) + found.hits[n:])[:TOP]
        rel = [any(passage_relevant(q, c.doc_id, c.passage.text) for c in (h, *found.copies.get(h.passage.id, ())))
               for h in ranked]
        out.append(Group(name, q.id, q.question, [passage_text(titles.get(h.doc_id, ""), h.passage.text) for h in ranked],
                         rel, [best.get(h.passage.id, float("-inf")) for h in ranked], [h.score for h in ranked]))
        if k % 500 == 0:
            log(f"{name}: {k}/{len(questions)}")
    return out


def gather(cache: Path, squad: int, log) -> None:
    """Candidates of every training and validation question, to cache/{train,val}.jsonl."""
    from qa.evaluate import load_questions

    news = list(load_questions(SHARED / "news-dev" / "questions.jsonl"))
    sq = list(load_questions(SHARED / "squad-train" / "questions.jsonl"))
    sets = {
        "train": [("news", SHARED / "news-dev" / "corpus", news[:NEWS_TRAIN]),
                  ("squad", SHARED / "squad-train" / "corpus", sq[:squad])],
        "val": [("news", SHARED / "news-dev" / "corpus", news[NEWS_TRAIN:]),
                ("squad", SHARED / "squad-train" / "corpus", sq[-HELDOUT:])],
    }
    cache.mkdir(parents=True, exist_ok=True)
    for split, parts in sets.items():
        with open(cache / f"{split}.jsonl", "w", encoding="utf-8") as fh:
            for name, corpus, qs in parts:
                for g in gather_set(name, corpus, qs, log):
                    fh.write(json.dumps(g.__dict__) + "\n")


def read_groups(path: Path) -> list[Group]:
    """Groups a gather wrote."""
    return [Group(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]


def training_lists(groups: list[Group], n: int, rng: random.Random) -> list[tuple[str, list[str], int]]:
    """(question, n candidate texts, index of the relevant one) for each question with a relevant candidate and an
    irrelevant one: a relevant passage and the engine's best-ranked irrelevant ones."""
    out = []
    for g in groups:
        pos = [t for t, r in zip(g.texts, g.relevant) if r]
        neg = [t for t, r in zip(g.texts, g.relevant) if not r]
        if not pos or not neg:
            continue
        texts = neg[: n - 1]
        at = rng.randrange(len(texts) + 1)
        texts.insert(at, rng.choice(pos))
        out.append((g.question, texts, at))
    return out


def train(model, head, tok, data: list, epochs: int, lr: float, batch: int, log) -> None:
    """AdamW, one-cycle; the loss is the cross-entropy of a softmax over each question's candidates."""
    import torch

    from bench.fit_reader import descend

    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(data) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    step = 0
    model.train()
    for epoch in range(epochs):
        order = np.random.RandomState(epoch).permutation(len(data))
        for k in range(0, len(order), batch):
            chunk = [data[i] for i in order[k:k + batch]]
            qs = [q for q, texts, _ in chunk for _ in texts]
            ts = [t for _, texts, _ in chunk for t in texts]
            enc = tok(qs, ts, truncation="only_second", max_length=MAX_LENGTH, padding=True, return_tensors="pt")
            logits = head(model(**enc).last_hidden_state[:, 0]).squeeze(-1)
            losses, at = [], 0
            for _, texts, gold in chunk:
                losses.append(torch.nn.functional.cross_entropy(logits[at:at + len(texts)][None], torch.tensor([gold])))
                at += len(texts)
            step = descend(opt, sched, torch.stack(losses).mean(), step, steps, log, every=25)
    model.eval()


def score_groups(model, head, tok, groups: list[Group], k: int) -> list[list[float]]:
    """The ranker's score of each group's first k candidates."""
    import torch

    out = []
    with torch.inference_mode():
        for g in groups:
            texts = g.texts[:k]
            enc = tok([g.question] * len(texts), texts, truncation="only_second", max_length=MAX_LENGTH, padding=True,
                      return_tensors="pt")
            out.append(head(model(**enc).last_hidden_state[:, 0]).squeeze(-1).tolist())
    return out


def metrics(groups: list[Group], scores: list[list[float]], w: float, k: int) -> dict:
    """hit@1 and MRR@10 with the first k candidates reordered by -place + w * score (w = 0: the engine's order)."""
    hits, rrs = [], []
    for g, s in zip(groups, scores):
        order = sorted(range(min(k, len(g.texts))), key=lambda i: (-(w * s[i] - i), i)) + list(range(k, len(g.texts)))
        rel = [g.relevant[i] for i in order]
        rank = next((i + 1 for i, r in enumerate(rel) if r), None)
        hits.append(rank == 1)
        rrs.append(1 / rank if rank and rank <= 10 else 0.0)
    return {"hit@1": round(float(np.mean(hits)), 4), "mrr@10": round(float(np.mean(rrs)), 4)}


def load_model(rank: int, alpha: float):
    """The packaged model with trainable low-rank deltas, its tokenizer, and a fresh one-output head."""
    import torch

    from bench.fit_reader import packaged
    from qa.config import DEFAULT_MODEL

    model, tok, wrapped = packaged(DEFAULT_MODEL, rank, alpha)
    return model, tok, wrapped, torch.nn.Linear(model.config.hidden_size, 1)


def choose(groups: list[Group], scores: list[list[float]]) -> tuple[float, int, dict]:
    """The weight and the number of passages reordered with the best hit@1 (then MRR@10) on these groups, and every
    setting's figures."""
    table = {f"w={w} top={k}": metrics(groups, [s[:k] for s in scores], w, k) for k in TOPS for w in WEIGHTS}
    w, k = max(((w, k) for k in TOPS for w in WEIGHTS), key=lambda wk: (table[f"w={wk[0]} top={wk[1]}"]["hit@1"],
                                                                     table[f"w={wk[0]} top={wk[1]}"]["mrr@10"], -wk[0]))
    return w, k, table


def measure(model, head, tok, cache: Path, out: Path, log) -> None:
    """Choose the weight and how many passages are reordered on squad-train's held-out questions; record them with the
    figures of news-dev's validation part (never chosen on) in the settings beside the weights."""
    val = read_groups(cache / "val.jsonl")
    payload = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    figures = {}
    for name in ("squad", "news"):
        groups = [g for g in val if g.set == name]
        scores = score_groups(model, head, tok, groups, max(TOPS))
        figures[name] = (groups, scores)
    w, k, table = choose(*figures["squad"])
    payload["weight"], payload["top"] = w, k
    payload["validation"] = {
        "chosen_on": f"squad-train's last {HELDOUT}",
        "squad-train": {"engine": metrics(*figures["squad"], 0, k), "ranked": table[f"w={w} top={k}"]},
        "news-dev validation (not chosen on)": {"engine": metrics(*figures["news"], 0, k),
                                                "ranked": metrics(*figures["news"], w, k)},
        "grid squad-train": table,
        "grid news-dev": {f"w={w2} top={k2}": metrics(figures["news"][0], [s[:k2] for s in figures["news"][1]], w2, k2)
                          for k2 in TOPS for w2 in WEIGHTS},
    }
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    log(f"chose w={w} top={k}: {json.dumps({k2: v for k2, v in payload['validation'].items() if not k2.startswith('grid')})}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("steps", nargs="*", help="gather, train and/or measure (all three when none is named)")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--squad", type=int, default=3000, help="squad-train's first N questions are trained on")
    ap.add_argument("--candidates", type=int, default=4, help="passages in each training list")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=8, help="questions per step")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N lists only")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    args.steps = args.steps or ["gather", "train", "measure"]
    if set(args.steps) - {"gather", "train", "measure"}:
        ap.error(f"steps are gather, train and measure; got {' '.join(args.steps)}")
    from bench.fit_reader import load, save, start_fit
    from qa.config import DEFAULT_MODEL

    log = start_fit()
    if "gather" in args.steps:
        gather(args.cache, args.squad, log)
    if "train" not in args.steps and "measure" not in args.steps:
        return
    model, tok, wrapped, head = load_model(args.rank, args.alpha)
    if "train" in args.steps:
        groups = read_groups(args.cache / "train.jsonl")
        data = training_lists(groups, args.candidates, random.Random(0))
        data = data[: args.limit] if args.limit else data
        log(f"{len(data)} training lists from {len(groups)} questions")
        train(model, head, tok, data, args.epochs, args.lr, args.batch, log)
        save(wrapped, head, {"model": DEFAULT_MODEL, "rank": args.rank, "alpha": args.alpha, "targets": sorted(wrapped),
                             "max_length": MAX_LENGTH,
                             "training": {"data": f"news-dev's first {NEWS_TRAIN}, squad-train's first {args.squad}",
                                          "lists": len(data), "candidates": args.candidates, "epochs": args.epochs,
                                          "lr": args.lr, "batch": args.batch}}, args.out)
        log(f"wrote {args.out}")
    else:
        load(wrapped, head, args.out)
    if "measure" in args.steps:
        measure(model, head, tok, args.cache, args.out, log)


if __name__ == "__main__":
    main()
