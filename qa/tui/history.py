"""The chat's input history, kept between sessions as shells keep theirs (one question a line)."""

from __future__ import annotations

import os
from pathlib import Path

LIMIT = 500  # questions kept


def history_path() -> Path:
    """$QA_HISTORY, else qa/history in the user's data folder ($XDG_DATA_HOME or ~/.local/share)."""
    if os.environ.get("QA_HISTORY"):
        return Path(os.environ["QA_HISTORY"]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "qa" / "history"


def load_history(path: Path, limit: int = LIMIT) -> list[str] | None:
    """The last `limit` questions, oldest first ([] when there is no file); None when it is unreadable or not text."""
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError):
        return None
    if any(_unprintable(line) for line in lines):
        return None
    lines = [line for line in lines if line.strip()]
    if len(lines) > 2 * limit:  # every session appends: trimmed now and then, not on each question
        _write(path, lines[-limit:])
    return lines[-limit:]


def append_history(path: Path, question: str, replace: bool = False) -> bool:
    """Add one question at the end of the file (or replace a damaged file); False when it can't be written."""
    line = " ".join(question.split())
    if not line:
        return True
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w" if replace else "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError:
        return False
    return True


def _unprintable(line: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in line)


def _write(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
