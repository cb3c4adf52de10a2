"""Exceptions raised by qa's core; only the CLI and the chat turn them into messages."""


class QAError(Exception):
    """Base class: a problem the user can fix, with a one-line message saying how."""


class ConfigError(QAError):
    """A setting is wrong (missing folder, unknown model)."""


class CorpusError(QAError):
    """An article cannot be read or added."""


class IndexMissing(QAError):
    """There is no built index where one was expected."""


class IndexIncompatible(QAError):
    """The index was built with another model, settings or format."""


class IndexCorrupt(QAError):
    """The index on disk is damaged or inconsistent."""


class IndexWriteError(QAError):
    """The index could not be written (disk full, no permission); the previous one is unchanged."""


class IndexBusy(QAError):
    """Another process is writing the index."""


class QuestionError(QAError):
    """A question is empty or too long."""


class EvalError(QAError):
    """A question set cannot be read."""
