"""The qa chat: a Textual app where every answer shows its sources (`qa chat`)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import threading
from collections import Counter, deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from rich.console import RenderableType
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Footer, Header, Input, Label, ProgressBar, Static, TextArea
from textual.widgets.text_area import Selection
from textual.worker import get_current_worker

from qa.config import Config
from qa.dates import DateRange, parse_bound, parse_day
from qa.errors import DateError
from qa.messages import (
    ASKED_TODAY,
    CORPUS_CHANGED,
    CORPUS_CHANGED_HEADER,
    DATES_CLEARED,
    HISTORY_UNWRITABLE,
    NO_ANSWER,
    RELATED_READING,
    TRY_ASKING,
    WELCOME,
    asked_header,
    asked_set,
    chat_error,
    dates_set,
    plural,
    question_too_long,
    source_meta,
)
from qa.tui.history import LIMIT, append_history, history_path, load_history

if TYPE_CHECKING:
    from qa.answer.engine import RankedPassage
    from qa.session import Session, SyncWhen
    from qa.store import ArticleInfo

Progress = Callable[[int, int], None]
SessionFactory = Callable[..., "Session"]  # (cfg, progress, sync="needed") -> Session, as open_chat_session

HELP = """Ask a question about the articles and press Enter. Answers quote the articles; each quote has a
numbered source. Click a source (or press Ctrl+N / Ctrl+P) to open the article beside the chat,
scrolled to the quote. Follow-up questions ("who is its chief officer?") use the conversation.

PageUp/PageDown scroll the conversation (Ctrl+Home/Ctrl+End: to its start/end); Up/Down recall earlier
questions, kept between sessions.

/help            this help
/articles        list the loaded articles: title, date, source
/clear           forget the conversation
/since DATE      answer only from articles dated from DATE on (2019, 2019-07, 2019-07-12); /since alone clears it
/until DATE      answer only from articles dated up to DATE; /until alone clears it
/asked DATE      ask as on DATE (2022-07-08): later articles left out; "this week", "the latest", timelines read against it; /asked alone: today
/reindex         sync the index with the corpus folder (the chat stays usable)
/save [FILE]     export the conversation as Markdown with every citation
/quit            leave (or Ctrl+Q)"""
EXAMPLES = 3  # topics the welcome suggests


@dataclass
class Turn:
    """One question and its answer, as shown and as saved."""

    question: str
    answer: object | None = None  # qa.answer.Answer
    widget: "AnswerBox | None" = None
    asked: Static | None = None  # the question as shown
    dates: DateRange = DateRange()  # the date filter and the day it was asked on, as they were when it was typed
    day: str = ""


class HistoryInput(Input):
    """An input line that recalls earlier questions with up and down, kept in a file between sessions."""

    BINDINGS = [Binding("up", "older", "Older", show=False), Binding("down", "newer", "Newer", show=False)]

    def __init__(self, path: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.path = path
        loaded = load_history(path)
        self.damaged = loaded is None  # replaced by the next question rather than appended to
        self.history: list[str] = loaded or []
        self.position = len(self.history)
        self.saving = True

    def remember(self, text: str) -> None:
        """Keep a question (not an empty one, not the same twice running), here and in the history file."""
        if text and (not self.history or self.history[-1] != text):
            self.history = (self.history + [text])[-LIMIT:]
            if self.saving and not append_history(self.path, text, replace=self.damaged):
                self.saving = False  # said once; the history still works for this session
                self.app.notify(HISTORY_UNWRITABLE.format(path=self.path), severity="warning", timeout=10)
            self.damaged = False
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

    def __init__(self, citation, short=None, **kwargs) -> None:
        from qa.render import citation_also_in, quote_in_context, source_line

        quote = quote_in_context(citation, short=short)  # the short answer, when in this quote, marked inside it
        also = citation_also_in(citation)  # the other articles saying the same
        parts = [source_line(citation), "\n", quote] + (["\n", also] if also else [])
        super().__init__(Text.assemble(*parts), classes="citation", **kwargs)
        self.citation = citation

    def on_click(self) -> None:
        self.app.open_citation(self.citation, self)

    def action_open(self) -> None:
        self.app.open_citation(self.citation, self)


class RelatedItem(Static):
    """A passage offered as related reading after an abstention: title, date, and the start of its text."""

    def __init__(self, passage: RankedPassage) -> None:
        from rich.console import Group
        from rich.padding import Padding

        from qa.render import snippet

        super().__init__(
            Group(Text.assemble(("• ", "dim"), (passage.title, "bold"), source_meta(passage.date, "")),
                  Padding(Text(snippet(passage.text, 220), style="dim"), (0, 0, 0, 2))),
            classes="citation related",
        )
        self.passage = passage


class AnswerBox(Vertical):
    """An answer: quotes with [n] markers and its sources, or an abstention with related reading."""

    def __init__(self) -> None:
        super().__init__(classes="answer pending")
        self.border_title = "qa"

    def compose(self) -> ComposeResult:
        yield Static(Text("Looking through the articles…"), classes="answer-text")

    async def show(self, answer) -> None:
        """Replace "looking…" with the answer; returns once its widgets are mounted."""
        self.remove_class("pending")
        await self.remove_children()
        if answer.abstained:
            self.add_class("abstained")
            self.border_title = "not in the articles"
            widgets = [Static(Text(NO_ANSWER, style="bold"), classes="answer-text")]
            if answer.passages:
                widgets.append(Static(Text(RELATED_READING, style="dim")))
                widgets += [RelatedItem(p) for p in answer.passages[:3]]
            await self.mount_all(widgets)
            return
        from qa.render import short_line

        lead = [Static(short_line(answer.short_answer), classes="short-answer")] if answer.short_answer else []
        await self.mount_all(
            lead + [Static(Text(answer.answer), classes="answer-text")]
            + [CitationItem(c, answer.short_answer) for c in answer.citations]
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
        Binding("pageup", "scroll_transcript('page_up')", "Scroll up", show=False),
        Binding("pagedown", "scroll_transcript('page_down')", "Scroll down", show=False),
        Binding("ctrl+home", "scroll_transcript('home')", "Top", show=False),
        Binding("ctrl+end", "scroll_transcript('end')", "Bottom", show=False),
    ]
    STALE_CHECK_S = 3.0  # how often an idle chat checks whether the corpus folder has changed

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
        self.current_citation: int | None = None  # None: Ctrl+N / Ctrl+P start from the latest answer's sources
        self.latest_items: list[CitationItem] = []  # the latest answer's sources
        self.stale = False  # the corpus folder has changed since the session's index was built
        self.dates = DateRange()  # /since and /until
        self.asked_on = ""  # /asked: the day questions are asked on ("": today)
        self.counts: dict[str, int] = {}  # the session's articles and passages
        self.jobs = Jobs()  # background threads running ("load", "ask", "reindex"): quitting won't wait
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
        yield HistoryInput(history_path(), placeholder="Ask about the articles, or /help", id="question")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "loading…"
        self.query_one("#question", Input).focus()
        self.call_after_refresh(self._painted)
        if not self.is_headless and sys.platform != "win32" and sys.__stdin__ is not None and sys.__stdin__.isatty():
            self.set_interval(1.0, self._exit_if_terminal_gone)
        self.set_interval(self.STALE_CHECK_S, self._check_stale)
        self.jobs.start("load")
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
        finally:
            self.jobs.done("load")
        self._post(self._loaded, session)

    def _load_failed(self, message: str) -> None:
        self.query_one("#loading", Label).update(Text(message, style="red"))
        self.sub_title = "not ready"
        self.notify(message, severity="error", timeout=15)
        for turn in self.queue:
            turn.widget.fail(message)
        self.queue.clear()

    async def _loaded(self, session: Session) -> None:
        self._use(session)
        self.query_one("#loading", Label).add_class("done")
        self.query_one("#progress", ProgressBar).remove_class("active")
        for message in session.warnings:
            self.notify(message, title="article skipped", severity="warning", timeout=15)
        if not self.turns:
            await self.welcome()

    def _use(self, session: Session) -> None:
        """Answer from this session from now on; the one it replaces closes when no question runs on it."""
        if self.session is not None:
            self.retired.append(self.session)
        self.session = session
        self._close_retired()
        self.counts = session.counts()  # fixed for a session: read once, not on every header update
        self.stale = False
        self.update_status()
        self._stale_worker(session)  # the corpus folder is walked off the UI thread
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
        counts = self.counts
        stale = CORPUS_CHANGED_HEADER if self.stale else "up to date"
        dates = f" · dated {self.dates.describe()}" if self.dates.active else ""
        dates += f" · {asked_header(self.asked_on)}" if self.asked_on else ""
        self.sub_title = f"{counts['articles']} articles · {counts['passages']} passages · {self.session.model} · {stale}{dates}"

    def _check_stale(self) -> None:
        """On a timer: when idle, look (off the UI thread) whether the corpus folder has changed."""
        if self.session is not None and self.asking is None and not self.stale and not self.jobs.running("reindex"):
            self._stale_worker(self.session)

    @work(thread=True, exclusive=True, group="stale", exit_on_error=False)
    def _stale_worker(self, session: Session) -> None:
        try:
            stale = session.stale()
        except Exception:  # a corpus folder being moved: the next check, or the next question, tells
            return
        self._post(self._show_stale, session, stale)

    def _show_stale(self, session: Session, stale: bool) -> None:
        """Show whether the corpus has changed; say so once when it just has, naming /reindex."""
        if session is not self.session:
            return
        if stale == self.stale:
            return  # nothing new to show
        if stale:
            self.notify(CORPUS_CHANGED, severity="warning", timeout=10)
        self.stale = stale
        self.update_status()

    def _progress_from_thread(self, done: int, total: int) -> None:
        self.call_from_thread(self._progress, done, total)

    def _progress(self, done: int, total: int) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.add_class("active")
        bar.update(total=total or None, progress=done)

    # --- asking --------------------------------------------------------------------------------
    @on(Input.Submitted, "#question")
    async def submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        field_ = self.query_one("#question", HistoryInput)
        length = len(" ".join(text.split()))
        if length > self.cfg.max_question_chars:  # refused before it is shown; kept to be shortened
            self.notify(question_too_long(length, self.cfg.max_question_chars), severity="error", timeout=10)
            return
        field_.remember(text)
        field_.value = ""
        if not text:
            return
        if text.startswith("/"):
            await self.command(text)
            return
        transcript = self.query_one("#transcript", VerticalScroll)
        turn = Turn(question=text, widget=AnswerBox(), asked=Static(Text(text), classes="question"), dates=self.dates,
                    day=self.asked_on)
        self.turns.append(turn)
        self.queue.append(turn)
        await transcript.mount_all([turn.asked, turn.widget])
        transcript.scroll_end(animate=False)
        self._next_question()

    def _next_question(self) -> None:
        """Start answering the oldest waiting question, once the index is loaded and no other runs."""
        if self.session is None or self.asking is not None or not self.queue:
            return
        turn = self.asking = self.queue.popleft()
        history = [t.question for t in self.turns if t is not turn and t.answer is not None]
        self.jobs.start("ask")
        self.ask_worker(self.session, turn, history)

    @work(thread=True, group="ask", exit_on_error=False)
    def ask_worker(self, session: Session, turn: Turn, history: list[str]) -> None:
        """Check the corpus, then answer off the UI thread; the answer or the error is shown on its own turn."""
        try:
            if not self.stale:  # already known to have changed: no need to walk the folder again
                self._post(self._show_stale, session, session.stale())
            result, error = session.engine.ask(turn.question, history, dates=turn.dates, asked=turn.day), None
        except Exception as exc:  # any failure is a notification; the chat stays up
            result, error = None, chat_error(exc)
        finally:
            self.jobs.done("ask")
        self._post(self._asked, turn, result, error)

    async def _asked(self, turn: Turn, result, error: str | None) -> None:
        self.asking = None
        if turn in self.turns:  # not cleared meanwhile
            if error is None:
                await self._show_answer(turn, result)
            else:
                turn.widget.fail(error)
                self.notify(error, severity="error")
        self._close_retired()
        self._next_question()

    async def _show_answer(self, turn: Turn, result) -> None:
        """Show the answer, make its sources the first Ctrl+N / Ctrl+P reach, and scroll it into view."""
        turn.answer = result
        await turn.widget.show(result)
        self._collect_citations()
        self.latest_items = list(turn.widget.query(CitationItem))
        self.current_citation = None
        self.reveal(turn.asked)

    def reveal(self, widget: Widget | None) -> None:
        """Once laid out, scroll the transcript so widget is at its top (the end when everything fits)."""
        transcript = self.query_one("#transcript", VerticalScroll)
        if widget is not None:
            self.call_after_refresh(lambda: transcript.scroll_to_widget(widget, top=True, animate=False))

    def _collect_citations(self) -> None:
        self.citation_items = list(self.query(CitationItem))

    def action_scroll_transcript(self, where: str) -> None:
        """PageUp/PageDown/Ctrl+Home/Ctrl+End: scroll the conversation; the input keeps the focus."""
        transcript = self.query_one("#transcript", VerticalScroll)
        if where == "home":
            transcript.scroll_home(animate=False)
        elif where == "end":
            transcript.scroll_end(animate=False, immediate=True)
        else:
            getattr(transcript, f"scroll_{where}")(animate=False)

    # --- sources -------------------------------------------------------------------------------
    def open_citation(self, citation, item: CitationItem | None = None) -> None:
        """Show the whole article beside the chat, scrolled to the quote, the quote selected."""
        from qa.render import source_header

        if self.session is None:
            return
        article = self.session.article(citation.doc_id)
        panel = self.query_one("#source", Vertical)
        panel.add_class("open")
        self.query_one("#source-title", Label).update(source_header(citation))
        area = self.query_one("#source-text", TextArea)
        area.load_text(article.text)
        area.selection = Selection(_location(article.text, citation.start), _location(article.text, citation.end))
        area.scroll_cursor_visible(center=True, animate=False)
        self.call_after_refresh(area.scroll_cursor_visible, center=True, animate=False)  # once the panel is laid out
        for ci in self.citation_items:
            ci.remove_class("current")
        if item is not None:
            item.add_class("current")
            self.current_citation = self.citation_items.index(item) if item in self.citation_items else None

    def _step_citation(self, step: int) -> None:
        """The next (or previous) source; right after an answer, that answer's first (or last) one."""
        self._collect_citations()
        items = self.citation_items
        if not items:
            self.notify("no sources to show yet", severity="warning")
            return
        if self.current_citation is None:
            latest = [i for i in self.latest_items if i in items] or items
            self.current_citation = items.index(latest[0] if step > 0 else latest[-1])
        else:
            self.current_citation = (self.current_citation + step) % len(items)
        item = items[self.current_citation]
        self.open_citation(item.citation, item)
        self.call_after_refresh(item.scroll_visible, animate=False)  # the transcript narrows as the panel opens

    def action_next_citation(self) -> None:
        self._step_citation(1)

    def action_prev_citation(self) -> None:
        self._step_citation(-1)

    def action_close_source(self) -> None:
        self.query_one("#source", Vertical).remove_class("open")
        self.query_one("#question", Input).focus()

    # --- commands ------------------------------------------------------------------------------
    async def command(self, text: str) -> None:
        name, _, arg = text.partition(" ")
        arg = arg.strip()
        if name in ("/quit", "/exit", "/q"):
            self.exit()
        elif name == "/help":
            await self.note(Text(HELP))
        elif name == "/articles":
            await self.list_articles()
        elif name == "/clear":
            await self.action_clear()
        elif name == "/save":
            self.save(arg)
        elif name == "/reindex":
            self.jobs.start("reindex")
            self.reindex()
        elif name in ("/since", "/until"):
            self.set_dates(name, arg)
        elif name == "/asked":
            self.set_asked(arg)
        else:
            self.notify(f"unknown command {name}: type /help for the list", severity="error")

    def set_dates(self, name: str, arg: str) -> None:
        """/since and /until: set (or, with no date, clear) one end of the date filter; the header shows it."""
        try:
            bound = parse_bound(arg, name) if arg else None
        except DateError as exc:
            self.notify(str(exc), severity="error")
            return
        self.dates = replace(self.dates, **{name[1:]: bound})
        self.notify(dates_set(self.dates.describe()) if self.dates.active else DATES_CLEARED)
        self.update_status()

    def set_asked(self, arg: str) -> None:
        """/asked: ask as on a day (or, with no date, today again); the header shows it."""
        try:
            self.asked_on = parse_day(arg, "/asked") if arg else ""
        except DateError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(asked_set(self.asked_on) if self.asked_on else ASKED_TODAY)
        self.update_status()

    async def note(self, text: RenderableType, classes: str = "note") -> None:
        """A message in the transcript (help, the article list, the welcome), scrolled into view."""
        widget = Static(text, classes=classes)
        await self.query_one("#transcript", VerticalScroll).mount(widget)
        self.reveal(widget)

    async def list_articles(self) -> None:
        """/articles: title, date and source of every loaded article."""
        if self.session is None:
            self.notify("the articles are still loading", severity="warning")
            return
        listing = self.session.listing()
        await self.note(bullets(Text(f"{plural(len(listing), 'article')} loaded:", style="bold"),
                                [Text.assemble((a.title, "bold"), source_meta(a.date, a.source)) for a in listing]))

    async def welcome(self) -> None:
        """The empty chat's welcome: how to ask, and a few of the stories the articles tell."""
        if self.session is not None:
            await self.note(welcome_text(self.session.listing()), classes="note welcome")

    async def action_clear(self) -> None:
        self.turns.clear()
        self.queue.clear()
        self.citation_items = []
        self.latest_items = []
        self.current_citation = None
        await self.query_one("#transcript", VerticalScroll).remove_children()
        self.action_close_source()
        await self.welcome()

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
            self.jobs.done("reindex")
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


class Jobs:
    """Background threads by kind, counted from the moment one is started on the UI thread until it ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: Counter[str] = Counter()

    def start(self, kind: str) -> None:
        with self._lock:
            self._count[kind] += 1

    def done(self, kind: str) -> None:
        with self._lock:
            self._count[kind] -= 1

    def running(self, kind: str | None = None) -> bool:
        """Whether a thread of this kind (or of any kind) is still running."""
        with self._lock:
            return self._count[kind] > 0 if kind else any(n > 0 for n in self._count.values())


def bullets(heading: Text, items: list[Text]) -> RenderableType:
    """A heading over a list, each item's wrapped lines indented under its bullet."""
    from rich.console import Group
    from rich.table import Table

    table = Table.grid(padding=(0, 1))
    table.add_column(width=1)
    table.add_column()
    for item in items:
        table.add_row("•", item)
    return Group(heading, table) if items else heading


def welcome_text(articles: list[ArticleInfo]) -> RenderableType:
    """How to ask, then the headlines of the newest articles to try asking about (the same every time)."""
    from qa.render import snippet

    newest = sorted(articles, key=lambda a: (a.date, a.doc_id), reverse=True)[:EXAMPLES]
    intro = Text(WELCOME.format(articles=plural(len(articles), "article")))
    if not newest:
        return intro
    topics = [Text.assemble((snippet(a.title, 100), "italic"), source_meta(a.date, "")) for a in newest]
    return bullets(Text.assemble(intro, "\n", (TRY_ASKING, "bold")), topics)


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


def run_chat(cfg: Config) -> int:
    """Run the chat until it quits; don't wait for a model still loading (or an index still syncing).

    Textual runs its thread workers on the event loop's executor, which `asyncio.run` would join on exit:
    Ctrl+Q during the model's load would wait for the load. The loop is ours, so the chat can leave
    instead; an index sync cut short is safe (it writes a workspace that the next sync clears)."""
    app = create_app(cfg)
    loop = asyncio.new_event_loop()
    try:
        app.run(loop=loop)
    finally:
        if app.jobs.running():
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(app.return_code or 0)
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
    return app.return_code or 0
