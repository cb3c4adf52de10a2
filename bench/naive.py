"""qa beside the naive baselines of `../shared/README.md`, in one process: hit@1 and MRR@10.

    python -m bench.naive QUESTIONS --corpus DIR [--limit N] [--json]

news-dev's validation part is its last 482 questions: `tail -n 482 ../shared/bench/news-dev/questions.jsonl`.

The naive pipelines: each article's paragraphs (lines) merged into passages of at least 120 words (or the whole
article, when shorter), ranked by plain BM25 (bm25s) or by plain dense retrieval (the embedding model as packaged,
without qa's fitted encoder deltas; exact inner product). A passage counts as found as in `qa eval` (from a gold article, holding an evidence sentence when
the set gives them). qa's own figures are `qa eval`'s, over its cached index of the corpus.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

WORDS = 120  # a naive passage: paragraphs merged until it has this many words


def naive_passages(corpus: Path) -> list[tuple[str, str]]:
    """(doc id, text) of every naive passage: each article's lines merged until WORDS words (an article shorter than
    that is one passage)."""
    from qa.corpus import doc_id_for

    out = []
    for path in sorted(corpus.rglob("*.txt")):
        if any(part.startswith(".") for part in path.relative_to(corpus).parts):
            continue  # hidden, as qa skips them
        doc = doc_id_for(path.relative_to(corpus))
        chunk: list[str] = []
        for para in (p.strip() for p in path.read_text(encoding="utf-8", errors="replace").splitlines()):
            if para:  # each non-empty line is a paragraph (the title line too)
                chunk.append(para)
            if chunk and sum(len(c.split()) for c in chunk) >= WORDS:
                out.append((doc, "\n\n".join(chunk)))
                chunk = []
        if chunk:
            out.append((doc, "\n\n".join(chunk)))
    return out


def ranking(questions: list, passages: list[tuple[str, str]], orders: list[list[int]]) -> dict[str, float]:
    """hit@1 and MRR@10 of each question's passage order (only questions with gold articles count)."""
    from qa.evaluate import passage_relevant

    hits, rrs = [], []
    for q, order in zip(questions, orders):
        rank = next((r + 1 for r, i in enumerate(order[:10]) if passage_relevant(q, *passages[i])), None)
        hits.append(rank == 1)
        rrs.append(1.0 / rank if rank else 0.0)
    return {"hit@1": round(float(np.mean(hits)), 4), "mrr@10": round(float(np.mean(rrs)), 4)}


def naive_dense(questions: list, passages: list[tuple[str, str]], model: str) -> list[list[int]]:
    """Each question's best 10 passages by the packaged embedding model's cosine (without qa's fitted encoder deltas:
    ../shared/README.md's baseline)."""
    from sentence_transformers import SentenceTransformer

    from qa.embed import resolve_model

    st = SentenceTransformer(str(resolve_model(model)), device="cpu", local_files_only=True)
    docs = st.encode_document([t for _, t in passages], batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    qs = st.encode_query([q.question for q in questions], batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    return np.argsort(-(qs @ docs.T), axis=1)[:, :10].tolist()


def naive_bm25(questions: list, passages: list[tuple[str, str]]) -> list[list[int]]:
    """Each question's best 10 passages by plain BM25 (bm25s, English stop words)."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([t for _, t in passages], stopwords="en", show_progress=False), show_progress=False)
    ids, _ = retriever.retrieve(bm25s.tokenize([q.question for q in questions], stopwords="en", show_progress=False),
                                k=min(10, len(passages)), show_progress=False)
    return ids.tolist()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("questions", type=Path)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from bench.fit import open_cached
    from qa.evaluate import load_questions, run_eval

    questions = [q for q in load_questions(args.questions, args.limit) if q.doc_ids and not q.unanswerable]
    session = open_cached(args.corpus)
    passages = naive_passages(args.corpus)
    rows = {
        "naive BM25": ranking(questions, passages, naive_bm25(questions, passages)),
        "naive dense": ranking(questions, passages, naive_dense(questions, passages, session.cfg.model)),
    }
    metrics = run_eval(session.engine, questions)["metrics"]
    rows["qa (hybrid)"] = {k: round(metrics[k], 4) for k in ("hit@1", "mrr@10")}
    if args.json:
        print(json.dumps({"questions": len(questions), "naive_passages": len(passages), **rows}))
        return
    print(f"{len(questions)} questions, {len(passages)} naive passages")
    for name, m in rows.items():
        print(f"{name:12s} hit@1 {m['hit@1']:.3f}  MRR@10 {m['mrr@10']:.3f}")


if __name__ == "__main__":
    main()
