"""A question set's answers by kind (each line's "kind" field): first quote right, declined, per kind.

    python -m bench.by_kind QUESTIONS --corpus DIR --index DIR [--from N] [--to N] [--kinds a,b]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def main() -> None:
    """Print one JSON line per kind, then one for all the questions asked."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("questions", type=Path)
    p.add_argument("--corpus", type=Path, default=Path("corpus"))
    p.add_argument("--index", type=Path, default=Path("index"))
    p.add_argument("--from", dest="first", type=int, default=1, help="first line (1-based)")
    p.add_argument("--to", dest="last", type=int, default=None, help="last line")
    p.add_argument("--kinds", default="", help="only these kinds, comma-separated")
    a = p.parse_args()

    from qa.config import Config
    from qa.evaluate import load_questions, run_eval
    from qa.session import open_session

    lines = a.questions.read_text(encoding="utf-8").splitlines()[a.first - 1:a.last]
    kinds = {json.loads(line)["id"]: json.loads(line).get("kind", "") for line in lines if line.strip()}
    wanted = set(filter(None, a.kinds.split(",")))
    qs = [q for q in load_questions(a.questions) if q.id in kinds and (not wanted or kinds[q.id] in wanted)]
    engine = open_session(Config(corpus_dir=a.corpus, index_dir=a.index)).engine
    report = run_eval(engine, qs)
    groups: dict[str, list[dict]] = defaultdict(list)
    for o in report["questions"]:
        groups[kinds[o["id"]]].append(o)
        groups["(all)"].append(o)
    for kind, outs in sorted(groups.items()):
        ans = [o for o in outs if not o["unanswerable"]]
        una = [o for o in outs if o["unanswerable"]]
        row = {"kind": kind, "n": len(outs)}
        if ans:
            row |= {"answer_first": round(sum(bool(o["first_ok"]) for o in ans) / len(ans), 3),
                    "answer_any": round(sum(bool(o["any_ok"]) for o in ans) / len(ans), 3),
                    "declined": round(sum(o["abstained"] for o in ans) / len(ans), 3)}
        if una:
            row["unanswerable_declined"] = round(sum(o["abstained"] for o in una) / len(una), 3)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
