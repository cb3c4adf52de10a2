"""Exceptions raised by qa's core; only the CLI and the chat turn them into messages.

Each error says what went wrong (its message) and which remedy fixes it (`fix`, one of `Fix`). The core
never phrases the remedy: the CLI says "run `qa index --rebuild`", the chat says "type /reindex"
(see `qa.messages`).
"""

from __future__ import annotations

from enum import Enum


class Fix(str, Enum):
    """A remedy the user can apply; each front end phrases it in its own terms."""

    INDEX = "index"  # build or sync the index
    REBUILD = "rebuild"  # rebuild the index from scratch
    RETRY = "retry"  # wait for another writer, then try again
    PERMISSIONS = "permissions"  # free disk space or fix the index folder's permissions, then sync
    ADD = "add"  # add articles to the corpus
    INSTALL = "install"  # reinstall qa's dependencies
    CORPUS = "corpus"  # create the corpus folder, or point qa at another one
    SERVER = "server"  # start the index server, or fix its address or token
    TOKEN = "token"  # give the index server a token it accepts
    PREFIX = "prefix"  # name an index the server holds, or build it where the articles are
    WRITER = "writer"  # change the shared index on the machine that holds its articles
    VERSION = "version"  # run the qa that built the shared index (or rebuild it where the articles are)


class QAError(Exception):
    """Base class: a problem the user can fix, with a one-line message saying what went wrong."""

    fix: Fix | None = None

    def __init__(self, message: str, fix: Fix | None = None) -> None:
        super().__init__(message)
        if fix is not None:
            self.fix = fix


class ConfigError(QAError):
    """A setting is wrong (missing folder, unknown model)."""


class CorpusError(QAError):
    """An article cannot be read or added."""


class IndexMissing(QAError):
    """There is no built index where one was expected."""

    fix = Fix.INDEX


class IndexIncompatible(QAError):
    """The index was built with another model, settings or format."""

    fix = Fix.REBUILD


class IndexCorrupt(QAError):
    """The index on disk is damaged or inconsistent."""

    fix = Fix.REBUILD


class IndexWriteError(QAError):
    """The index could not be written (disk full, no permission); the previous one is unchanged."""

    fix = Fix.PERMISSIONS


class IndexBusy(QAError):
    """Another process is writing the index."""

    fix = Fix.RETRY


class BackendUnavailable(QAError):
    """The index server (Milvus) is down, unreachable or refuses the token."""

    fix = Fix.SERVER


class DateError(QAError):
    """A date filter is malformed."""


class QuestionError(QAError):
    """A question is empty or too long."""


class EvalError(QAError):
    """A question set cannot be read."""
