"""The qa chat: a Textual app where every answer shows its sources (`qa chat`)."""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Input, Label, ProgressBar, Static, TextArea
from textual.widgets.text_area import Selection
from textual.worker import get_current_worker

from qa.config import Config
from qa.messages import NO_ANSWER, RELATED_READING, chat_error

if TYPE_CHECKING:
    from qa.session import Session, SyncWhen

Progress = Callable[[int, int], None]
SessionFactory = Callable[..., "Session"]  # (cfg, progress, sync="needed") -> Session, as open_chat_session

HELP = """Ask a question about the articles and press Enter. Answers quote the articles; each quote has a
numbered source. Click a source (or press Ctrl+N / Ctrl+P) to open the article beside the chat,
scrolled to the quote. Follow-up questions ("who is its chief officer?") use the conversation.

/help            this help
/clear           forget the conversation
/reindex         sync the index with the corpus folder (the chat stays usable)
/save [FILE]     export the conversation as Markdown with every citation
/quit            leave (or Ctrl+Q)"""


@dataclass
class Turn:
    """One question and its answer, as shown and as saved."""

    question: str
    answer: object | None = None  # qa.answer.Answer
    widget: "AnswerBox | None" = None


class HistoryInput(Input):
    """An input line that recalls earlier questions with up and down."""

    BINDINGS = [Binding("up", "older", "Older", show=False), Binding("down", "newer", "Newer", show=False)]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history: list[str] = []
        self.position = 0

    def remember(self, text: str) -> None:
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self.position = len(self.history)

    def action_older(self) -> None:
        if self.history and self.position > 0:
            self.position -= 1
            self.value = self.history[self.position]
            self.cursor_position = len(self.value)

    def action_newer(self) -> None:
        if self.position < len(self.history) - 1:
            self.position += 1
            self.value = self.history[self.position]
        else:
            self.position = len(self.history)
            self.value = ""
        self.cursor_position = len(self.value)


class CitationItem(Static, can_focus=True):
    """One numbered source under an answer: title, then the quote highlighted in its context."""

    BINDINGS = [Binding("enter", "open", "Open source")]

    def __init__(self, citation, **kwargs) -> None:
        from qa.render import quote_in_context, source_line

        super().__init__(Text.assemble(source_line(citation), "\n", quote_in_context(citation)), classes="citation", **kwargs)
        self.citation = citation

    def on_click(self) -> None:
        self.app.open_citation(self.citation, self)

    def action_open(self) -> None:
        self.app.open_citation(self.citation, self)


class AnswerBox(Vertical):
    """An answer: quotes with [n] markers and its sources, or an abstention with related reading."""

    def __init__(self) -> None:
        super().__init__(classes="answer pending")
        self.border_title = "qa"

    def compose(self) -> ComposeResult:
        yield Static(Text("Looking through the articles…"), classes="answer-text")

    def show(self, answer) -> None:
        self.remove_class("pending")
        self.remove_children()
        if answer.abstained:
            self.add_class("abstained")
            self.border_title = "not in the articles"
            widgets = [Static(Text(NO_ANSWER, style="bold"), classes="answer-text")]
            if answer.passages:
                widgets.append(Static(Text(RELATED_READING, style="dim")))
                from qa.render import snippet

                for p in answer.passages[:3]:
                    widgets.append(Static(Text.assemble(("• ", "dim"), (p.title, "bold"), "\n  ", (snippet(p.text, 220), "dim")), classes="citation"))
            self.mount_all(widgets)
            return
        self.mount_all(
            [Static(Text(answer.answer), classes="answer-text")] + [CitationItem(c) for c in answer.citations]
        )

    def fail(self, message: str) -> None:
        self.remove_class("pending")
        self.add_class("abstained")
        self.remove_children()
        self.mount(Static(Text(message, style="bold red")))


class QAApp(App):
    """Chat with the articles: ask, read cited answers, open the sources."""

    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    TITLE = "qa"
    BINDINGS = [
        Binding("ctrl+n", "next_citation", "Next source"),
        Binding("ctrl+p", "prev_citation", "Prev source"),
        Binding("escape", "close_source", "Close source"),
        Binding("ctrl+l", "clear", "Clear"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, cfg: Config, session_factory: SessionFactory | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.session_factory = session_factory or open_chat_session
        self.session: Session | None = None
        self.retired: list[Session] = []  # replaced by /reindex, closed once no question runs on them
        self.turns: list[Turn] = []
        self.queue: deque[Turn] = deque()  # questions waiting to be answered, oldest first
        self.asking: Turn | None = None  # the one question being answered (never two at once)
        self.citation_items: list[CitationItem] = []
        self.current_citation = -1
        self.started = time.perf_counter()
        self.first_paint_s: float | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Label("Loading the model and the index…", id="loading")
        yield ProgressBar(id="progress", show_eta=False)
        with Horizontal(id="body"):
            yield VerticalScroll(id="transcript")
            with Vertical(id="source"):
                yield Label("", id="source-title")
                yield TextArea("", id="source-text", read_only=True, soft_wrap=True, show_line_numbers=False)
        yield HistoryInput(placeholder="Ask about the articles, or /help", id="question")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "loading…"
        self.query_one("#question", Input).focus()
        self.call_after_refresh(self._painted)
        if not self.is_headless and sys.platform != "win32" and sys.__stdin__ is not None and sys.__stdin__.isatty():
            self.set_interval(1.0, self._exit_if_terminal_gone)
        self.load_session()

    def _exit_if_terminal_gone(self) -> None:
        """Quit when the terminal has hung up (its window closed, ssh dropped).

        Under `make run` the hangup signal goes to make, not to the chat, and Textual's input loop
        would then spin on a closed terminal at full CPU for ever."""
        import termios  # POSIX only, as is the hangup this guards against

        try:
            termios.tcgetattr(sys.__stdin__.fileno())
        except (termios.error, OSError, ValueError):
            self.exit(return_code=129)

    def _painted(self) -> None:
        self.first_paint_s = time.perf_counter() - self.started

    # --- loading -------------------------------------------------------------------------------
    def _post(self, callback: Callable, *args, **kwargs) -> None:
        """From a worker: run callback on the UI thread, unless the worker was cancelled (the app is closing)."""
        if not get_current_worker().is_cancelled:
            self.call_from_thread(callback, *args, **kwargs)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_session(self) -> None:
        """Import the model and open (or build) the index off the UI thread; any failure is a notification."""
        from qa.errors import QAError

        try:
            session = self.session_factory(self.cfg, self._progress_from_thread)
        except Exception as exc:  # an unexpected failure is still a message, not a traceback
            message = chat_error(exc) if isinstance(exc, QAError) else f"could not load: {chat_error(exc)}"
            self._post(self._load_failed, message)
            return
        self._post(self._loaded, session)

    def _load_failed(self, message: str) -> None:
        self.query_one("#loading", Label).update(Text(message, style="red"))
        self.sub_title = "not ready"
        self.notify(message, severity="error", timeout=15)
        for turn in self.queue:
            turn.widget.fail(message)
        self.queue.clear()

    def _loaded(self, session: Session) -> None:
        self._use(session)
        self.query_one("#loading", Label).add_class("done")
        self.query_one("#progress", ProgressBar).remove_class("active")
        for message in session.warnings:
            self.notify(message, title="article skipped", severity="warning", timeout=15)

    def _use(self, session: Session) -> None:
        """Answer from this session from now on; the one it replaces closes when no question runs on it."""
        if self.session is not None:
            self.retired.append(self.session)
        self.session = session
        self._close_retired()
        self.update_status()
        self._next_question()

    def _close_retired(self) -> None:
        if self.asking is None:
            for old in self.retired:
                old.close()
            self.retired.clear()

    def on_unmount(self) -> None:
        if self.session is not None:
            self.retired.append(self.session)
            self.session = None
        self._close_retired()  # a question still running at exit keeps its session open

    def update_status(self) -> None:
        """Articles, passages, model and freshness in the header."""
        if self.session is None:
            return
        counts = self.session.counts()
        stale = "stale: /reindex" if self.session.stale() else "up to date"
        self.sub_title = f"{counts['articles']} articles · {counts['passages']} passages · {self.session.model} · {stale}"

    def _progress_from_thread(self, done: int, total: int) -> None:
        self.call_from_thread(self._progress, done, total)

    def _progress(self, done: int, total: int) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.add_class("active")
        bar.update(total=total or None, progress=done)

    # --- asking --------------------------------------------------------------------------------
    @on(Input.Submitted, "#question")
    def submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        field_ = self.query_one("#question", HistoryInput)
        field_.remember(text)
        field_.value = ""
        if not text:
            return
        if text.startswith("/"):
            self.command(text)
            return
        transcript = self.query_one("#transcript", VerticalScroll)
        turn = Turn(question=text, widget=AnswerBox())
        transcript.mount(Static(Text(text), classes="question"))
        transcript.mount(turn.widget)
        transcript.scroll_end(animate=False)
        self.turns.append(turn)
        self.queue.append(turn)
        self._next_question()

    def _next_question(self) -> None:
        """Start answering the oldest waiting question, once the index is loaded and no other runs."""
        if self.session is None or self.asking is not None or not self.queue:
            return
        turn = self.asking = self.queue.popleft()
        history = [t.question for t in self.turns if t is not turn and t.answer is not None]
        self.ask_worker(self.session, turn, history)

    @work(thread=True, group="ask", exit_on_error=False)
    def ask_worker(self, session: Session, turn: Turn, history: list[str]) -> None:
        """Answer off the UI thread; the answer or the error is shown on the UI thread, on its own turn."""
        try:
            result, error = session.engine.ask(turn.question, history), None
        except Exception as exc:  # any failure is a notification; the chat stays up
            result, error = None, chat_error(exc)
        self._post(self._asked, turn, result, error)

    def _asked(self, turn: Turn, result, error: str | None) -> None:
        self.asking = None
        if turn in self.turns:  # not cleared meanwhile
            if error is None:
                self._show_answer(turn, result)
            else:
                turn.widget.fail(error)
                self.notify(error, severity="error")
        self._close_retired()
        self._next_question()

    def _show_answer(self, turn: Turn, result) -> None:
        turn.answer = result
        turn.widget.show(result)
        self.call_after_refresh(self._collect_citations)
        self.query_one("#transcript", VerticalScroll).scroll_end(animate=False)

    def _collect_citations(self) -> None:
        self.citation_items = list(self.query(CitationItem))

    # --- sources -------------------------------------------------------------------------------
    def open_citation(self, citation, item: CitationItem | None = None) -> None:
        """Show the whole article beside the chat, scrolled to the quote, the quote selected."""
        from qa.render import source_line

        if self.session is None:
            return
        article = self.session.article(citation.doc_id)
        panel = self.query_one("#source", Vertical)
        panel.add_class("open")
        self.query_one("#source-title", Label).update(source_line(citation))
        area = self.query_one("#source-text", TextArea)
        area.load_text(article.text)
        area.selection = Selection(_location(article.text, citation.start), _location(article.text, citation.end))
        area.scroll_cursor_visible(center=True, animate=False)
        for ci in self.citation_items:
            ci.remove_class("current")
        if item is not None:
            item.add_class("current")
            self.current_citation = self.citation_items.index(item) if item in self.citation_items else -1

    def _step_citation(self, step: int) -> None:
        self._collect_citations()
        if not self.citation_items:
            self.notify("no sources to show yet", severity="warning")
            return
        self.current_citation = (self.current_citation + step) % len(self.citation_items)
        item = self.citation_items[self.current_citation]
        item.scroll_visible(animate=False)
        self.open_citation(item.citation, item)

    def action_next_citation(self) -> None:
        self._step_citation(1)

    def action_prev_citation(self) -> None:
        self._step_citation(-1)

    def action_close_source(self) -> None:
        self.query_one("#source", Vertical).remove_class("open")
        self.query_one("#question", Input).focus()

    # --- commands ------------------------------------------------------------------------------
    def command(self, text: str) -> None:
        name, _, arg = text.partition(" ")
        arg = arg.strip()
        if name in ("/quit", "/exit", "/q"):
            self.exit()
        elif name == "/help":
            self.note(HELP)
        elif name == "/clear":
            self.action_clear()
        elif name == "/save":
            self.save(arg)
        elif name == "/reindex":
            self.reindex()
        else:
            self.notify(f"unknown command {name}: type /help for the list", severity="error")

    def note(self, text: str) -> None:
        transcript = self.query_one("#transcript", VerticalScroll)
        transcript.mount(Static(Text(text), classes="note"))
        transcript.scroll_end(animate=False)

    def action_clear(self) -> None:
        self.turns.clear()
        self.queue.clear()
        self.citation_items = []
        self.current_citation = -1
        self.query_one("#transcript", VerticalScroll).remove_children()
        self.action_close_source()

    def save(self, arg: str) -> None:
        from qa.export import conversation_markdown

        answered = [t for t in self.turns if t.answer is not None]
        if not answered:
            self.notify("nothing to save yet: ask a question first", severity="warning")
            return
        path = Path(arg).expanduser() if arg else Path(f"qa-conversation-{time.strftime('%Y%m%d-%H%M%S')}.md")
        try:
            path.write_text(conversation_markdown([(t.question, t.answer) for t in answered]), encoding="utf-8")
        except OSError as exc:
            self.notify(f"cannot write {path}: {exc.strerror}", severity="error")
            return
        self.notify(f"saved {len(answered)} answers to {path}")

    @work(thread=True, exclusive=True, group="reindex", exit_on_error=False)
    def reindex(self) -> None:
        """Sync the index with the corpus in the background, then answer from the new index."""
        self._post(self.notify, "syncing the index with the corpus…")
        try:
            session = self.session_factory(self.cfg, self._progress_from_thread, sync="always")
        except Exception as exc:  # any failure is a notification; the chat keeps its index
            self._post(self.notify, chat_error(exc), severity="error", timeout=10)
            return
        finally:
            self._post(lambda: self.query_one("#progress", ProgressBar).remove_class("active"))
        if get_current_worker().is_cancelled:  # a newer /reindex, or the app closing
            session.close()
            return
        self.call_from_thread(self._reindexed, session)

    def _reindexed(self, session: Session) -> None:
        self._use(session)
        for message in session.warnings:
            self.notify(message, severity="warning", timeout=10)
        self.notify(f"index synced: {session.report.plan.summary()}" if session.report else "index synced")


def _location(text: str, offset: int) -> tuple[int, int]:
    """(row, column) of a character offset, as TextArea counts them."""
    row = text.count("\n", 0, offset)
    col = offset - (text.rfind("\n", 0, offset) + 1)
    return row, col


def open_chat_session(cfg: Config, progress: Progress, sync: SyncWhen = "needed") -> Session:
    """The chat's session: synced when missing or stale (always for /reindex), waiting up to 30 s for a writer."""
    from qa.session import open_session

    return open_session(cfg, sync=sync, progress=progress, lock_wait=30)


def create_app(cfg: Config, **kwargs) -> QAApp:
    """The one factory the CLI and the tests use."""
    return QAApp(cfg, **kwargs)
