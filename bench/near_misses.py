"""Write the near misses `bench.fit` trains on, for a question set of one's own (to measure how many are declined).

    python -m bench.near_misses QUESTIONS.jsonl --corpus DIR > near-misses.jsonl
    qa eval near-misses.jsonl --corpus DIR

Each near miss is a question of the set about another year its gold articles never name, or about a name from
another question they never use, marked unanswerable. No other article is checked: a news archive that
covers the new year or name elsewhere may in fact answer a few of them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.fit import near_misses, open_cached
from qa.evaluate import load_questions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("questions", type=Path)
    p.add_argument("--corpus", type=Path, required=True)
    a = p.parse_args()
    questions = list(load_questions(a.questions))
    session = open_cached(a.corpus)
    misses = near_misses(session.engine, questions)
    for q in questions:
        if q.id in misses:
            print(json.dumps({"id": f"{q.id}-near-miss", "question": misses[q.id], "unanswerable": True}, ensure_ascii=False))
    session.close()


if __name__ == "__main__":
    main()
