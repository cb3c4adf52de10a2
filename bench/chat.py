"""Chat benchmark: time to first paint, and Enter to answer on screen, against a bare `engine.ask`.

    python -m bench.chat [--questions N]
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

FIRST_PAINT = r"""
import time, sys
t0 = time.perf_counter()
import asyncio, threading
from pathlib import Path
from qa.config import Config
from qa.tui.app import create_app
gate = threading.Event()
def never(cfg, progress, sync="needed"):
    gate.wait(10)
    raise RuntimeError("benchmark")
async def main():
    app = create_app(Config(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2])), session_factory=never)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.first_paint_s is None:
            await asyncio.sleep(0.001)
        print(time.perf_counter() - t0)
        gate.set()
asyncio.run(main())
"""


def first_paint(corpus: Path, index: Path, runs: int = 5) -> list[float]:
    """Seconds from process start (interpreter included) to the chat's first paint."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-c", FIRST_PAINT, str(corpus), str(index)], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        out.append((float(res.stdout.strip().splitlines()[-1]), wall))
    return out


async def enter_to_answer(cfg, questions: list[str]) -> tuple[list[float], list[float]]:
    """Milliseconds from Enter to the answer on screen, and for a bare engine.ask of the same question."""
    from qa.tui.app import AnswerBox, create_app

    app = create_app(cfg)
    ui, bare = [], []
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        for q in questions:
            app.query_one("#question").value = q
            t0 = time.perf_counter()
            await pilot.press("enter")
            box = list(app.query(AnswerBox))[-1]
            while box.has_class("pending"):
                await asyncio.sleep(0.0005)
            await pilot.pause()
            ui.append((time.perf_counter() - t0) * 1000)
            app.session.retriever.__dict__.get("_qcache", {}).clear()  # no help from the UI run's cache
            t0 = time.perf_counter()
            app.session.engine.ask(q)
            bare.append((time.perf_counter() - t0) * 1000)
            await pilot.press("ctrl+l")
    return ui, bare


def main() -> dict:
    from qa.config import Config
    from qa.session import open_session

    questions = [json.loads(line)["question"] for line in (REPO / "questions" / "ccg.jsonl").open()][:30]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config(corpus_dir=REPO / "corpus", index_dir=Path(tmp) / "index")
        open_session(cfg).close()  # build the index
        paints = first_paint(cfg.corpus_dir, cfg.index_dir)
        ui, bare = asyncio.run(enter_to_answer(cfg, questions))
    res = {
        "first_paint_s_median": float(np.median([p for p, _ in paints])),
        "process_wall_s_median": float(np.median([w for _, w in paints])),
        "enter_to_answer_ms_p50": float(np.percentile(ui, 50)), "enter_to_answer_ms_p95": float(np.percentile(ui, 95)),
        "bare_ask_ms_p50": float(np.percentile(bare, 50)), "bare_ask_ms_p95": float(np.percentile(bare, 95)),
    }
    print(f"chat      first paint {res['first_paint_s_median']:.2f} s after process start (median of 5); "
          f"Enter to answer on screen p50 {res['enter_to_answer_ms_p50']:.0f} ms, p95 {res['enter_to_answer_ms_p95']:.0f} ms; "
          f"bare engine.ask p50 {res['bare_ask_ms_p50']:.0f} ms, p95 {res['bare_ask_ms_p95']:.0f} ms")
    return res


if __name__ == "__main__":
    main()
