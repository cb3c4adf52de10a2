"""Every sentence qa says to its user about an answer, in one place (CLI, chat and export read them here)."""

from __future__ import annotations

NO_ANSWER = "The articles don't say."
