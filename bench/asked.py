"""Give each question of a RealTimeQA set the day it was asked, from the quiz date its id starts with.

    python -m bench.asked < ../shared/bench/news-dev/questions.jsonl > news-asked.jsonl

RealTimeQA's ids are "YYYYMMDD_n", the quiz's date: each line gains "asked": "YYYY-MM-DD", so `qa eval` asks it
on that day ("the latest" is then the newest article up to it, not the newest of 2022). Lines whose id is not of
that form are copied as they are.
"""

from __future__ import annotations

import json
import re
import sys

QUIZ_ID = re.compile(r"^(\d{4})(\d{2})(\d{2})_")


def quiz_day(question_id: str) -> str:
    """The day of the quiz a RealTimeQA id names ("20220708_3" -> "2022-07-08"), or ""."""
    m = QUIZ_ID.match(question_id)
    return "-".join(m.groups()) if m else ""


def with_asked(line: str) -> str:
    """The question line with "asked" set from its quiz id, or the line unchanged."""
    q = json.loads(line)
    day = quiz_day(str(q.get("id", "")))
    if day:
        q["asked"] = day
    return json.dumps(q, ensure_ascii=False)


def main() -> None:
    """Each line of standard input, with its quiz's day, to standard output."""
    for line in sys.stdin:
        if line.strip():
            print(with_asked(line))


if __name__ == "__main__":
    main()
