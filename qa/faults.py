"""Named points in index writing where crash-safety tests can kill the process (QA_KILL_AT=name)."""

from __future__ import annotations

import os
import signal

POINTS = ("locked", "embedded", "written", "renamed", "pointer", "switched")


def checkpoint(name: str) -> None:
    """Die here by SIGKILL, as a power cut or `kill -9` would, when QA_KILL_AT names this point."""
    if os.environ.get("QA_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
