"""Every answer of a question set as JSON lines: to prove a refactor changes no answer (diff two dumps).

python -m bench.dump_answers QUESTIONS --corpus DIR --index DIR [--limit N] [--retriever MODE] > answers.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    """Print one JSON line per question: the answer, its citations' offsets, confidence and passages."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--retriever", default="hybrid")
    args = parser.parse_args()

    from qa.config import Config
    from qa.evaluate import load_questions
    from qa.session import open_session

    engine = open_session(Config(corpus_dir=args.corpus, index_dir=args.index)).engine
    for q in load_questions(args.questions, limit=args.limit):
        a = engine.ask(q.question, list(q.history), mode=args.retriever)
        row = {
            "id": q.id, "answer": a.answer, "abstained": a.abstained, "confidence": round(a.confidence, 6),
            "citations": [(c.doc_id, c.start, c.end, round(c.score, 6)) for c in a.citations],
            "passages": [(p.doc_id, p.start, p.end, round(p.score, 6)) for p in a.passages],
        }
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
