"""Every sentence qa says to its user about an answer or an error, in one place.

The CLI, the chat and the Markdown export read them here. Core errors say what went wrong and carry a
`Fix`; each front end phrases that fix in its own terms (`CLI_REMEDY`, `CHAT_REMEDY`).
"""

from __future__ import annotations

from typing import Protocol

from qa.errors import Fix, QAError

NO_ANSWER = "The articles don't say."
def overview(title: str) -> str:
    """How an answer to an open request ("Tell me about ...") says what it is."""
    return f"The most central sentences of “{title}”:"


READ_ONLY = "none here: answering from the server's index as it was last built"

RELATED_READING = "Closest passages (related reading, not an answer):"

# the chat's own sentences
CORPUS_CHANGED_HEADER = "corpus changed: /reindex"
CORPUS_CHANGED = "the corpus folder has changed since the chat loaded its index: type /reindex to sync it"
WELCOME = "Ask a question about the {articles} and press Enter; /articles lists them, /help shows the keys."
TRY_ASKING = "Try asking about:"
HISTORY_UNWRITABLE = "cannot save the input history to {path}: set QA_HISTORY to a file you can write"
DATES_CLEARED = "date filter cleared"
ASKED_TODAY = "asking as of today again"


def dates_set(described: str) -> str:
    """The chat's note that /since or /until narrowed the articles answers come from."""
    return f"answering from articles dated {described}"


def asked_set(day: str) -> str:
    """The chat's note that /asked set the day questions are asked on."""
    return f"asking as on {day}: later articles are left out; 'this week', 'the latest' and timelines are read against it"


def asked_header(day: str) -> str:
    """The header's part naming the day questions are asked on."""
    return f"asked {day}"


def question_too_long(length: int, limit: int) -> str:
    """The chat's refusal of an over-long question, which it keeps in the input."""
    return f"the question is {length:,} characters long; the limit is {limit:,}: shorten it (it is still in the input)"


def plural(n: int, word: str) -> str:
    """`1 article`, `5 articles`."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"

CLI_REMEDY: dict[Fix, str] = {
    Fix.INDEX: "run `qa index`",
    Fix.REBUILD: "run `qa index --rebuild`",
    Fix.RETRY: "wait for it to finish, then try again",
    Fix.PERMISSIONS: "free some space or check the index folder's permissions, then run `qa index` again",
    Fix.ADD: "add articles with `qa add FILE`",
    Fix.INSTALL: "reinstall qa's dependencies (`make setup`, or `pip install -e .`)",
    Fix.CORPUS: "create it or pass --corpus DIR",
    Fix.SERVER: "start it, or check --backend / QA_BACKEND and QA_MILVUS_TOKEN",
    Fix.TOKEN: "set QA_MILVUS_TOKEN to a user:password or API key the server accepts",
    Fix.PREFIX: "check QA_MILVUS_PREFIX, or run `qa index` on the machine that holds the articles",
    Fix.WRITER: "add them on the machine that holds the articles, or copy the whole corpus here first",
    Fix.VERSION: "run the same version of qa here as on the machine that holds the articles, then sync it there",
}

CHAT_REMEDY: dict[Fix, str] = {
    Fix.INDEX: "type /reindex",
    Fix.REBUILD: "type /reindex to rebuild it",
    Fix.RETRY: "wait for it to finish, then type /reindex",
    Fix.PERMISSIONS: "free some space or check the index folder's permissions, then type /reindex",
    Fix.ADD: "put articles in the corpus folder, then type /reindex",
    Fix.INSTALL: "quit, reinstall qa's dependencies (`make setup`), then start the chat again",
    Fix.CORPUS: "create it and type /reindex, or quit and start the chat with --corpus DIR",
    Fix.SERVER: "start it (or quit and check QA_BACKEND and QA_MILVUS_TOKEN), then type /reindex",
    Fix.TOKEN: "quit, set QA_MILVUS_TOKEN to a user:password or API key the server accepts, and start the chat again",
    Fix.PREFIX: "quit and check QA_MILVUS_PREFIX, or run `qa index` on the machine that holds the articles",
    Fix.WRITER: "sync the shared index on the machine that holds the articles",
    Fix.VERSION: "quit, run the same version of qa here as on the machine that holds the articles, then sync it there",
}


def _with_remedy(exc: QAError, remedies: dict[Fix, str]) -> str:
    remedy = remedies.get(exc.fix) if exc.fix is not None else None
    return f"{exc}: {remedy}" if remedy else str(exc)


def cli_error(exc: QAError) -> str:
    """`<what went wrong>: <what to run>`, as the CLI prints it after `error: `."""
    return _with_remedy(exc, CLI_REMEDY)


def chat_error(exc: BaseException) -> str:
    """`<what went wrong>: <what to type>` for a QAError; `<Type>: <message>` for anything else."""
    if isinstance(exc, QAError):
        return _with_remedy(exc, CHAT_REMEDY)
    return f"{type(exc).__name__}: {exc}"


class Located(Protocol):
    """A span of an article: a citation, a ranked passage, a search hit's passage."""

    doc_id: str
    start: int
    end: int


UNDATED = "undated"  # a timeline entry whose article has no date


def also_in(n: int) -> str:
    """What a quote or result with copies elsewhere says of them."""
    return f"also in {n} other article{'s' if n != 1 else ''}"


def source_meta(date: str, source: str) -> str:
    """` (date, source)`, leaving out what is unknown; empty when both are."""
    meta = ", ".join(x for x in (date, source) if x)
    return f" ({meta})" if meta else ""


def offsets(item: Located) -> str:
    """`doc_id [start:end]`: where the quote or passage stands in its article."""
    return f"{item.doc_id} [{item.start}:{item.end}]"
