"""Fit the reader: low-rank deltas to the embedding model's layers and a start/end head (qa.answer.reader).

    python -m bench.fit_reader [--rank 16] [--epochs 2] [--negatives 0.5] [--near-misses 0] [--skip 0]
                               [--heldout 2000] [--limit N] [--threshold T | --choose] [--out qa/answer/reader.safetensors]

The shipped reader is `python -m bench.fit_reader --choose` (about 35 minutes on 2 cores): no near misses, nothing
skipped.

Training data: `../shared/bench/squad-train` (Wikipedia, no article shared with `bench/squad`), each question
paired with its evidence sentence; the target is the first occurrence of a gold answer in it. `--negatives F`
adds, for a fraction F of the questions, another evidence sentence of the same article that holds no gold
answer, whose target is the [CLS] token (no span: a quote that doesn't answer gets a low probability).
`--near-misses F` adds, for a fraction F, the question asked about another name (one the article's other
questions use) or another year than the one its sentence names, with that same sentence and [CLS] as target:
the reader learns that a sentence about Hull's officer doesn't answer a question about Doncaster's (tried as
evidence for the abstention model and not shipped: docs/benchmarks.md, round 8). `--skip N` keeps the first N
questions of the file out of training, for an abstention model fitted on them (`bench.fit --squad-limit N`).
The last `--heldout` questions are never trained on; EM/F1 on them with the right sentence given, and the AUC
of the no-answer margin between them and their near misses, are printed and recorded. `--choose` then sets the
threshold a span's probability needs to be shown on news-dev's validation part, end to end (`bench.short`),
with the weights just written (so only with the default --out).
Nothing here reads bench/squad or questions/ccg.jsonl.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import time
from pathlib import Path

import numpy as np

from bench.fit import SHARED, YEAR, move_year
from bench.fit_short import training_questions

OUT = Path(__file__).resolve().parent.parent / "qa" / "answer" / "reader.safetensors"
TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
           "intermediate.dense", "output.dense")  # the linear layers of each transformer block given deltas
MAX_LENGTH = 192  # tokens of question and sentence together
MAX_ANSWER = 25  # tokens of the longest span decoded


def start_fit(seed: int = 0):
    """Two threads (this machine's cores) and a fixed seed for a fit; a log that stamps each line with the seconds since."""
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(seed)
    t0 = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t0:6.0f} s] {msg}", flush=True)

    return log


def packaged(model_name: str, rank: int, alpha: float) -> tuple:
    """The embedding model as packaged (eager attention, the plainer graph) with trainable low-rank deltas on its target
    layers: the transformer, its tokenizer and {layer name: wrapper}."""
    from sentence_transformers import SentenceTransformer

    from qa.embed import resolve_model

    st = SentenceTransformer(str(resolve_model(model_name)), device="cpu")
    model, tok = st[0].auto_model, st[0].tokenizer
    model.set_attn_implementation("eager")
    return model, tok, lora_layers(model, rank, alpha)


def lora_layers(model, rank: int, alpha: float) -> dict:
    """Wrap every target layer of the model with a trainable low-rank delta; {name: wrapper}."""
    import torch

    class LoRA(torch.nn.Module):
        def __init__(self, base: torch.nn.Linear) -> None:
            super().__init__()
            self.base = base
            self.lora_a = torch.nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
            self.lora_b = torch.nn.Parameter(torch.zeros(base.out_features, rank))
            self.scale = alpha / rank

        def forward(self, x):
            return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * self.scale

    for p in model.parameters():
        p.requires_grad = False
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n.endswith(TARGETS)
             and n.startswith("encoder.layer.")]
    wrapped = {}
    for name in names:
        parent_name, child = name.rsplit(".", 1)
        parent = model.get_submodule(parent_name)
        wrapped[name] = LoRA(getattr(parent, child))
        setattr(parent, child, wrapped[name])
    return wrapped


def examples(questions: list, negatives: float, near: float = 0.0, seed: int = 0) -> list[tuple[str, str, tuple[int, int] | None]]:
    """(question, sentence, answer's character span) pairs; a negative's span is None. A fraction `near` of the
    questions also gets its near miss (`near_miss`) with its own sentence, a negative."""
    from qa.evaluate import norm

    by_doc: dict[str, list[str]] = {}
    for q in questions:
        by_doc.setdefault(article_of(q), []).append(q.evidence[0])
    names = names_by_doc(questions)
    rng = random.Random(seed)
    out = []
    for q in questions:
        sent = q.evidence[0]
        found = next(((sent.find(a), a) for a in q.answers if sent.find(a) >= 0), None)
        if found is None:
            continue
        out.append((q.question, sent, (found[0], found[0] + len(found[1]))))
        if near and rng.random() < near:
            miss = near_miss(q.question, sent, names.get(article_of(q), []), rng)
            if miss:
                out.append((miss, sent, None))
        if rng.random() < negatives:
            words = set(norm(q.question).split())
            pool = [s for s in dict.fromkeys(by_doc.get(article_of(q), []))
                    if s != sent and not any(norm(a) in norm(s) for a in q.answers)]
            if pool:
                hard = max(pool, key=lambda s: (len(words & set(norm(s).split())), rng.random()))
                out.append((q.question, hard, None))
    return out


def article_of(q) -> str:
    """The question's (first) gold article, "" when it names none."""
    return q.doc_ids[0] if q.doc_ids else ""


def names_by_doc(questions: list) -> dict[str, list[str]]:
    """The names each article's questions use: runs of capitalised words of more than 3 letters, not opening one."""
    from qa.answer.question import find_names, name_words

    out: dict[str, list[str]] = {}
    for q in questions:
        runs = [n.text for n in find_names(q.question) if not n.opens and name_words([n]) and len(n.text) > 3]
        out.setdefault(article_of(q), []).extend(runs)
    return {d: list(dict.fromkeys(v)) for d, v in out.items()}


def near_miss(question: str, sentence: str, names: list[str], rng: random.Random) -> str | None:
    """The question about another year or name that the sentence never mentions, where the sentence names the
    original ("Who is Hull CCG's accountable officer?" asked as Doncaster's of Hull's sentence): it no longer answers.
    None when the question names nothing the sentence has, or no other name is at hand."""
    from qa.answer.features import years_in
    from qa.answer.question import find_names, name_words
    from qa.lexical import tokenize

    held, years = set(tokenize(sentence)), years_in(sentence)  # "2016/17" holds 2016 and 2017
    year = YEAR.search(question)
    if year and year.group(1) in years:
        moved = move_year(question, rng.sample((1, -1, 2, -2, 3, -3, 5, -5), 8), lambda y: y in years)
        if moved:
            return moved
    bound = [n for n in find_names(question) if name_words([n]) and set(tokenize(n.text)) <= held]
    if not bound:
        return None
    name = rng.choice(bound)
    own = set(tokenize(name.text))
    others = [c for c in names if not own <= set(tokenize(c)) and not (set(tokenize(c)) - own) & held]
    if not others:
        return None
    possessive = re.search(r"['’]s$", name.text)
    return question.replace(name.text, rng.choice(others) + (possessive.group(0) if possessive else ""), 1)


def encode(tok, items: list) -> tuple:
    """A padded batch and each item's target start/end token (0, 0: [CLS], no span)."""
    import torch

    enc = tok([q for q, _, _ in items], [s for _, s, _ in items], truncation="only_second", max_length=MAX_LENGTH,
              padding=True, return_offsets_mapping=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping")
    starts, ends = [], []
    for b, (_, _, span) in enumerate(items):
        st = en = 0
        if span:
            toks = [(j, *offsets[b][j].tolist()) for j, sid in enumerate(enc.sequence_ids(b)) if sid == 1]
            inside = [j for j, s, e in toks if s < span[1] and e > span[0]]
            if inside:
                st, en = inside[0], inside[-1]
        starts.append(st)
        ends.append(en)
    return enc, offsets, torch.tensor(starts), torch.tensor(ends)


def train(model, head, tok, data: list, epochs: int, lr: float, batch: int, log) -> None:
    """AdamW with a one-cycle schedule; the loss is the mean of the start and end cross-entropies."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(data) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    ce = torch.nn.CrossEntropyLoss()
    step = 0
    model.train()
    for epoch in range(epochs):
        order = np.random.RandomState(epoch).permutation(len(data))
        for k in range(0, len(order), batch):
            enc, _, s, e = encode(tok, [data[i] for i in order[k:k + batch]])
            logits = head(model(**enc).last_hidden_state).masked_fill((enc["attention_mask"] == 0)[..., None], -1e4)
            loss = (ce(logits[..., 0], s) + ce(logits[..., 1], e)) / 2
            step = descend(opt, sched, loss, step, steps, log, every=50)
    model.eval()


def descend(opt, sched, loss, step: int, steps: int, log, every: int) -> int:
    """One optimiser step on the loss, the schedule advanced, the loss logged every `every` steps; the new count."""
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    step += 1
    if step % every == 0:
        log(f"step {step}/{steps} loss {float(loss.detach()):.3f}")
    return step


def heldout(model, head, tok, questions: list) -> dict:
    """EM and F1 on questions with their evidence sentence given, decoded as at run time."""
    import torch

    from qa.answer.reader import best_pair, log_softmax
    from qa.evaluate import short_scores

    ems, f1s = [], []
    with torch.inference_mode():
        for k in range(0, len(questions), 64):
            qs = questions[k:k + 64]
            enc, offsets, _, _ = encode(tok, [(q.question, q.evidence[0], None) for q in qs])
            logits = head(model(**enc).last_hidden_state).numpy()
            for b, q in enumerate(qs):
                n = int(enc["attention_mask"][b].sum())
                context = [j for j, sid in enumerate(enc.sequence_ids(b)) if sid == 1]
                i, j, _ = best_pair(log_softmax(logits[b, :n, 0]), log_softmax(logits[b, :n, 1]), context, MAX_ANSWER)
                em, f1 = short_scores(q.evidence[0][int(offsets[b][i][0]):int(offsets[b][j][1])], q.answers)
                ems.append(em)
                f1s.append(f1)
    return {"n": len(questions), "em": round(float(np.mean(ems)), 4), "f1": round(float(np.mean(f1s)), 4)}


def answerability(model, head, tok, questions: list, seed: int = 1) -> dict:
    """How well the reader tells a question its sentence answers from its near miss: the AUC of the no-answer
    margin, log p([CLS]) - log p(best span), over the questions and their near misses with the same sentences."""
    import torch
    from sklearn.metrics import roc_auc_score

    from qa.answer.reader import best_pair, log_softmax

    names, rng = names_by_doc(questions), random.Random(seed)
    pairs = [(q.question, q.evidence[0], 0) for q in questions]
    for q in questions:
        miss = near_miss(q.question, q.evidence[0], names.get(article_of(q), []), rng)
        if miss:
            pairs.append((miss, q.evidence[0], 1))
    margins = []
    with torch.inference_mode():
        for k in range(0, len(pairs), 64):
            chunk = pairs[k:k + 64]
            enc, _, _, _ = encode(tok, [(q, s, None) for q, s, _ in chunk])
            logits = head(model(**enc).last_hidden_state).numpy()
            for b in range(len(chunk)):
                n = int(enc["attention_mask"][b].sum())
                context = [j for j, sid in enumerate(enc.sequence_ids(b)) if sid == 1]
                start, end = log_softmax(logits[b, :n, 0]), log_softmax(logits[b, :n, 1])
                margins.append(float(start[0] + end[0]) - float(np.log(best_pair(start, end, context, MAX_ANSWER)[2])))
    labels = [y for _, _, y in pairs]
    auc = roc_auc_score(labels, margins) if 0 < sum(labels) < len(labels) else float("nan")  # needs both kinds
    return {"near_misses": sum(labels), "auc": round(float(auc), 4)}


def load(wrapped: dict, head, path: Path) -> None:
    """Fitted deltas and head (a file `save` wrote) into layers wrapped by `lora_layers` and a start/end head."""
    import torch
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    with torch.no_grad():
        for name, layer in wrapped.items():
            layer.lora_a.copy_(tensors[f"{name}.lora_a"].float())
            layer.lora_b.copy_(tensors[f"{name}.lora_b"].float())
        head.weight.copy_(tensors["head.weight"].float())
        head.bias.copy_(tensors["head.bias"].float())


def save(wrapped: dict, head, payload: dict, out: Path) -> None:
    """The deltas (and the head, when there is one) as float16 safetensors, and the settings beside them (.json)."""
    from safetensors.torch import save_file

    tensors = {f"{n}.{p}": getattr(m, p).detach().half().contiguous() for n, m in wrapped.items() for p in ("lora_a", "lora_b")}
    if head is not None:
        tensors |= {"head.weight": head.weight.detach().half().contiguous(), "head.bias": head.bias.detach().half().contiguous()}
    save_file(tensors, str(out))
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--negatives", type=float, default=0.5, help="fraction of questions given a no-answer sentence too")
    ap.add_argument("--near-misses", type=float, default=0.0,
                    help="fraction of questions also asked as a near miss (another name or year) of their sentence")
    ap.add_argument("--skip", type=int, default=0, help="first N questions of the file kept out (bench.fit fits on them)")
    ap.add_argument("--heldout", type=int, default=2000, help="last questions kept out of training and scored")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N questions only")
    ap.add_argument("--threshold", type=float, default=0.1, help="the probability a span needs to be shown")
    ap.add_argument("--choose", action="store_true", help="choose the threshold on news-dev's validation part")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.choose and args.out.resolve() != OUT:
        ap.error(f"--choose measures the reader the engine loads: write it to {OUT} (the default --out)")

    import torch

    from qa.config import DEFAULT_MODEL

    log = start_fit()
    questions = training_questions(None)
    fit_on, held = questions[:-args.heldout], questions[-args.heldout:]
    if args.skip:
        from qa.evaluate import load_questions

        skipped = {q.id for q in load_questions(SHARED / "squad-train" / "questions.jsonl", args.skip)}
        fit_on = [q for q in fit_on if q.id not in skipped]
    fit_on = fit_on[:args.limit] if args.limit else fit_on
    model, tok, wrapped = packaged(DEFAULT_MODEL, args.rank, args.alpha)
    head = torch.nn.Linear(model.config.hidden_size, 2)
    data = examples(fit_on, args.negatives, args.near_misses)
    log(f"{len(data)} training pairs from {len(fit_on)} questions; {len(wrapped)} layers with rank-{args.rank} deltas")
    train(model, head, tok, data, args.epochs, args.lr, args.batch, log)
    figures = heldout(model, head, tok, held)
    log(f"held-out, right sentence given: {figures}")
    payload = {
        "model": DEFAULT_MODEL, "rank": args.rank, "alpha": args.alpha, "targets": sorted(wrapped),
        "max_length": MAX_LENGTH, "max_answer": MAX_ANSWER, "threshold": args.threshold,
        "training": {"data": "squad-train", "questions": len(fit_on), "pairs": len(data), "epochs": args.epochs,
                     "lr": args.lr, "batch": args.batch, "negatives": args.negatives,
                     "near_misses": args.near_misses, "skipped": args.skip},
        "heldout": {"set": f"squad-train last {args.heldout}, evidence sentence given", **figures},
    }
    save(wrapped, head, payload, args.out)
    payload["heldout"]["answerability"] = answerability(model, head, tok, held)  # after saving: the fit is kept
    log(f"held-out near misses: {payload['heldout']['answerability']}")
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    if args.choose:
        from bench.short import choose_reader_threshold

        payload["threshold"], payload["validation"] = choose_reader_threshold()
        args.out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {args.out} and {args.out.with_suffix('.json')} (threshold {payload['threshold']})")


if __name__ == "__main__":
    main()
