"""Experiment, not shipped: fit the reader to rank the engine's candidate sentences (docs/benchmarks.md, round 5).

    python -m bench.fit_rank [--candidates 4] [--squad 4000] [--lr 3e-4] [--listwise 1.0] [--out ranked.safetensors]

Continues the shipped reader (`qa/answer/reader.safetensors`) and writes the result to --out (never over the
shipped one), with its figures beside it (.json); about 25 minutes on 2 cores.

1. Candidates: each training question is asked of its corpus and the engine's best `--candidates` sentences are
   kept, each right when it holds a gold answer (in any article: not qa eval's "first quote right", which also
   needs the gold article; a right one whose answer is not found verbatim gets [CLS] as its span target).
   Questions whose candidates are all right or all wrong teach no ranking and are left out. Training questions: news-dev's first 1,497 (the 482 from 2022-07 on are its
   validation part) and `--squad` of squad-train's, never its last 2,000 (held out, as for the reader's own fit).
2. Fit: one epoch over the questions, 8 at a time. The loss is the reader's own (each candidate's answer span, or
   [CLS] when it holds none) plus a listwise one: the softmax over a question's candidates of the answer score
   log(p(some span) / p(no span)) should fall on the right ones.
3. Measure: the weight of that score beside the engine's is fitted on squad-train's held-out 2,000, which
   neither fit saw; how many sentences are read (3 or 5) is chosen on news-dev's validation part. The figure is
   the share of questions whose best candidate, so reordered, holds an answer. The engine change measured end to
   end in docs/benchmarks.md (the bonus in the engine, the abstention model refitted with the score) is not in the
   repository: it was left out.
Nothing here reads bench/squad or questions/ccg.jsonl.
"""

from __future__ import annotations

import argparse
import copy
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.fit import NEWS_TRAIN, SHARED, open_cached
from bench.fit_reader import OUT, encode, load, packaged, save, start_fit

HELDOUT = 2000  # squad-train's last questions, never fitted on (as in bench.fit_reader)
W_GRID = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
TOP_GRID = (3, 5)


@dataclass(frozen=True)
class Candidate:
    """One of the engine's best sentences for a question: its text, the engine's score, whether it holds an answer,
    and where the answer is in it (None: it holds none)."""

    text: str
    total: float
    right: bool
    span: tuple[int, int] | None


@dataclass(frozen=True)
class Group:
    """A question as the engine reads it, and its candidates best first."""

    id: str
    query: str
    candidates: tuple[Candidate, ...]


def candidates(corpus: Path, questions: list, n: int, log) -> list[Group]:
    """The engine's n best sentences for each question with answers, the reader not yet consulted."""
    from qa.evaluate import norm

    engine = open_cached(corpus).engine
    out = []
    for k, q in enumerate(questions):
        if not q.answers:
            continue
        u = engine.understand(q.question, list(q.history))
        scored = engine.score(u, engine.retrieve(u).hits)
        rows = []
        for s in scored.sentences[:n]:
            text = engine.features.get(s.doc_id).text[s.start:s.end]
            low = text.lower()
            at = next(((low.find(a.lower()), a) for a in q.answers if low.find(a.lower()) >= 0), None)
            right = any(norm(a) in norm(text) for a in q.answers)  # in any article (news-dev repeats answers)
            rows.append(Candidate(text, s.total, right, (at[0], at[0] + len(at[1])) if right and at else None))
        out.append(Group(q.id, u.query, tuple(rows)))
        if k % 2000 == 0:
            log(f"{corpus.parent.name}: {k}/{len(questions)} questions asked")
    return out


def answer_score(start: np.ndarray, end: np.ndarray, context: list[int]) -> float:
    """log(p(some span of the context) / p(no span)) from start and end log-probabilities, [CLS] (token 0) being
    no span: SQuAD 2.0's answer score."""
    idx = np.asarray(context)
    return float(np.logaddexp.reduce(start[idx]) + np.logaddexp.reduce(end[idx]) - start[0] - end[0])


def informative(groups: list[Group]) -> list[Group]:
    """The questions whose candidates are neither all right nor all wrong."""
    return [g for g in groups if len({c.right for c in g.candidates}) == 2]


def fit(model, head, tok, data: list[Group], lr: float, listwise: float, per_step: int, log) -> None:
    """One epoch of the span loss plus the listwise loss on the answer score, AdamW with a one-cycle schedule."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = math.ceil(len(data) / per_step)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    ce = torch.nn.CrossEntropyLoss()
    order = np.random.RandomState(0).permutation(len(data))
    model.train()
    for step, k in enumerate(range(0, len(order), per_step), 1):
        groups = [data[i] for i in order[k:k + per_step]]
        flat = [(g.query, c.text, c.span) for g in groups for c in g.candidates]
        enc, _, starts, ends = encode(tok, flat)
        logits = head(model(**enc).last_hidden_state).masked_fill((enc["attention_mask"] == 0)[..., None], -1e4)
        loss = (ce(logits[..., 0], starts) + ce(logits[..., 1], ends)) / 2
        loss = loss + listwise * _listwise(logits, enc, groups)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0:
            log(f"step {step}/{steps} loss {float(loss.detach()):.3f}")
    model.eval()


def _listwise(logits, enc, groups: list[Group]):
    """Mean over the questions of -log(the softmax share of their right candidates) over the answer scores."""
    import torch

    context = torch.tensor([[sid == 1 for sid in enc.sequence_ids(b)] for b in range(logits.shape[0])])
    start = logits[..., 0].masked_fill(~context, -1e4)
    end = logits[..., 1].masked_fill(~context, -1e4)
    score = torch.logsumexp(start, 1) + torch.logsumexp(end, 1) - logits[:, 0, 0] - logits[:, 0, 1]
    total, i = 0.0, 0
    for g in groups:
        s = score[i:i + len(g.candidates)]
        right = torch.tensor([c.right for c in g.candidates])
        total = total - (torch.logsumexp(s[right], 0) - torch.logsumexp(s, 0))
        i += len(g.candidates)
    return total / len(groups)


def answer_scores(model, head, tok, groups: list[Group], top: int) -> list[list[float]]:
    """The reader's answer score for each group's best `top` candidates."""
    import torch

    from qa.answer.reader import log_softmax

    flat = [(g.query, c.text, None) for g in groups for c in g.candidates[:top]]
    scores = []
    with torch.inference_mode():
        for k in range(0, len(flat), 64):
            enc, _, _, _ = encode(tok, flat[k:k + 64])
            logits = head(model(**enc).last_hidden_state).numpy()
            for b in range(logits.shape[0]):
                n = int(enc["attention_mask"][b].sum())
                context = [j for j, sid in enumerate(enc.sequence_ids(b)) if sid == 1]
                scores.append(answer_score(log_softmax(logits[b, :n, 0]), log_softmax(logits[b, :n, 1]), context))
    it = iter(scores)
    return [[next(it) for _ in g.candidates[:top]] for g in groups]


def first_right(groups: list[Group], scores: list[list[float]], w: float, top: int) -> float:
    """Share of the questions whose best candidate, after the reader's weighted score is added to the engine's
    among the best `top`, holds an answer."""
    picks = [max(range(min(top, len(g.candidates))), key=lambda i: g.candidates[i].total + w * a[i]) if g.candidates else None
             for g, a in zip(groups, scores)]
    return float(np.mean([p is not None and g.candidates[p].right for g, p in zip(groups, picks)]))


def choose(model, head, tok, held: list[Group], validation: list[Group], log) -> dict:
    """w_reader fitted on the held-out training questions, top chosen on the validation part; with the figures."""
    top_most = max(TOP_GRID)
    held_a = answer_scores(model, head, tok, held, top_most)
    fitted = {w: first_right(held, held_a, w, top_most) for w in W_GRID}
    w = max(W_GRID, key=lambda x: (fitted[x], -x))
    val_a = answer_scores(model, head, tok, validation, top_most)
    chosen = {t: first_right(validation, val_a, w, t) for t in TOP_GRID}
    top = max(TOP_GRID, key=lambda t: (chosen[t], -t))
    log(f"w_reader {w} (held-out squad-train first right {fitted})\ntop {top} (news-dev validation {chosen})")
    return {
        "w_reader": w, "top": top,
        "fitted_on": {"set": f"squad-train last {HELDOUT}", "first_right_without": first_right(held, held_a, 0.0, top_most),
                      "first_right_by_w": {str(k): round(v, 4) for k, v in fitted.items()}},
        "chosen_on": {"set": "news-dev validation", "first_right_without": first_right(validation, val_a, 0.0, top_most),
                      "first_right_by_top": {str(k): round(v, 4) for k, v in chosen.items()}},
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=4, help="the engine's best sentences per training question")
    ap.add_argument("--squad", type=int, default=4000, help="squad-train questions with a ranking to learn, at most")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--listwise", type=float, default=1.0, help="weight of the listwise loss beside the span loss")
    ap.add_argument("--per-step", type=int, default=8, help="questions per step")
    ap.add_argument("--out", type=Path, default=Path("ranked.safetensors"), help="where the fitted reader goes")
    args = ap.parse_args(argv)
    if args.out.resolve().parent == OUT.parent:
        ap.error(f"--out must be outside {OUT.parent}: this experiment never writes over the shipped reader")
    if not args.out.resolve().parent.is_dir():
        ap.error(f"--out's folder {args.out.parent} does not exist")

    import torch

    from bench.fit_short import training_questions
    from bench.short import validation_questions
    from qa.answer.reader import settings
    from qa.evaluate import load_questions

    shipped = settings()
    if shipped is None:
        raise SystemExit(f"no fitted reader to continue: run python -m bench.fit_reader --choose first ({OUT})")
    log = start_fit()

    held_ids = {q.id for q in training_questions(None)[-HELDOUT:]}
    squad_qs = list(load_questions(SHARED / "squad-train" / "questions.jsonl"))
    squad = candidates(SHARED / "squad-train" / "corpus", squad_qs, max(args.candidates, max(TOP_GRID)), log)
    news_qs = list(load_questions(SHARED / "news-dev" / "questions.jsonl"))
    val_ids = {q.id for q in validation_questions()}
    news = candidates(SHARED / "news-dev" / "corpus", news_qs, max(args.candidates, max(TOP_GRID)), log)
    trim = lambda gs: [Group(g.id, g.query, g.candidates[:args.candidates]) for g in gs]  # noqa: E731
    squad_fit = informative(trim([g for g in squad if g.id not in held_ids]))
    random.Random(0).shuffle(squad_fit)
    data = informative(trim([g for g in news[:NEWS_TRAIN] if g.id not in val_ids])) + squad_fit[:args.squad]
    log(f"{len(data)} questions to fit on, {sum(len(g.candidates) for g in data)} pairs")

    payload = {k: v for k, v in copy.deepcopy(shipped).items() if k in ("model", "rank", "alpha", "targets", "max_length", "max_answer")}
    model, tok, wrapped = packaged(payload["model"], int(payload["rank"]), float(payload["alpha"]))
    head = torch.nn.Linear(model.config.hidden_size, 2)
    load(wrapped, head, OUT)
    fit(model, head, tok, data, args.lr, args.listwise, args.per_step, log)

    from bench.fit_reader import heldout

    payload["heldout"] = {"set": f"squad-train last {HELDOUT}, evidence sentence given", **heldout(model, head, tok, training_questions(None)[-HELDOUT:])}
    payload["ranking_training"] = {"data": "news-dev's first 1497 and squad-train before its last 2000, mixed candidates only", "questions": len(data),
                                   "candidates": args.candidates, "lr": args.lr, "listwise": args.listwise, "epochs": 1}
    log(f"held-out, right sentence given: {payload['heldout']}")
    payload["ranking"] = choose(model, head, tok, [g for g in squad if g.id in held_ids], [g for g in news if g.id in val_ids], log)
    save(wrapped, head, payload, args.out)
    log(f"wrote {args.out} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
