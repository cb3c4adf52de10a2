"""The chat, driven with Pilot like a person: ask, read sources, open them, save, reindex.

Every test runs on the deterministic fake embedder (qa.testing), through create_app's session factory.
"""

from __future__ import annotations

import datetime
import os
import pty
import select
import shutil
import signal
import sys
import threading
import time

import pytest

from qa.config import Config
from qa.session import Session, open_session
from qa.testing import HashingEmbedder
from qa.tui.app import AnswerBox, CitationItem, create_app
from tests.conftest import NORTH_DERBYSHIRE, REPO

SIZE = (120, 40)
FAKE = HashingEmbedder()
# `qa chat` in a child process, embedding with the fake
HARNESS = (
    "import sys; from qa import embed; from qa.config import Config; from qa.testing import HashingEmbedder; "
    "embed._CACHE[Config.from_env().model] = HashingEmbedder(); "
    "from qa.cli import main; main(sys.argv[1:])"
)


def fake_session(cfg: Config, progress, sync="needed") -> Session:
    """The chat's session factory, on the fake embedder."""
    return open_session(cfg, sync=sync, progress=progress, embedder=FAKE)


def chat(cfg: Config, factory=fake_session):
    return create_app(cfg, session_factory=factory)


@pytest.fixture(autouse=True)
def history_file(tmp_path, monkeypatch):
    """Each test keeps its input history in its own file, never in the user's data folder."""
    path = tmp_path / "qa-history"
    monkeypatch.setenv("QA_HISTORY", str(path))
    return path


def screen_text(app) -> str:
    """The characters on the screen, line by line, as a person reads them."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def words(text: str) -> str:
    """Text with its line breaks and runs of spaces as single spaces, and bullets dropped."""
    return " ".join(w for w in text.split() if w != "•")


def shown(widget) -> str:
    """The lines a widget shows on screen (cut where the screen cuts it)."""
    from textual.geometry import Region

    return "\n".join(s.text for s in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Config:
    """A corpus copy with its index built once for the module."""
    tmp = tmp_path_factory.mktemp("chat")
    shutil.copytree(REPO / "corpus", tmp / "corpus")
    cfg = Config(corpus_dir=tmp / "corpus", index_dir=tmp / "index")
    open_session(cfg, embedder=FAKE).close()
    return cfg


async def settle(app, pilot) -> None:
    """Wait until every question asked so far has its answer (they are answered one after another)."""
    for _ in range(200):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.asking is None and not app.queue:
            return
    raise AssertionError("questions still waiting")


async def command(app, pilot, text: str) -> None:
    """Type a slash command and wait for what it started."""
    app.query_one("#question").value = text
    await pilot.press("enter")
    await app.workers.wait_for_complete()
    await pilot.pause()


async def ask(app, pilot, question: str) -> AnswerBox:
    app.query_one("#question").value = question
    await pilot.press("enter")
    await settle(app, pilot)
    return list(app.query(AnswerBox))[-1]


async def test_answer_cites_the_right_article_and_viewer_shows_the_quote(built):
    app = chat(built)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        box = await ask(app, pilot, "Why was North Derbyshire rated inadequate?")
        items = list(box.query(CitationItem))
        assert items and items[0].citation.doc_id == NORTH_DERBYSHIRE
        assert "financial position" in str(box.query_one(".answer-text").render())
        assert "articles" in app.sub_title and "up to date" in app.sub_title
        await pilot.click(items[0])
        await pilot.pause()
        assert app.query_one("#source").has_class("open")
        area = app.query_one("#source-text")
        assert area.selected_text == items[0].citation.quote
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert area.selected_text == items[1 % len(items)].citation.quote
        await pilot.press("escape")
        assert not app.query_one("#source").has_class("open")


async def test_follow_up_and_abstention_in_one_conversation(built):
    app = chat(built)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await ask(app, pilot, "Why was Cambridgeshire and Peterborough CCG rated inadequate?")
        box = await ask(app, pilot, "Who is its chief officer?")
        text = str(box.query_one(".answer-text").render())
        assert "Tracy Dowling" in text or "Jan Thomas" in text
        box = await ask(app, pilot, "What rating did Manchester CCG get?")
        assert box.has_class("abstained") and not list(box.query(CitationItem))


async def test_question_typed_while_loading_is_answered_when_ready(built):
    gate = threading.Event()

    def slow_factory(cfg, progress, sync="needed"):
        gate.wait(30)
        return fake_session(cfg, progress, sync)

    app = chat(built, slow_factory)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#question").value = "How many CCGs were rated inadequate in the first assessment?"
        await pilot.press("enter")
        await pilot.pause()
        box = list(app.query(AnswerBox))[-1]
        assert box.has_class("pending") and app.session is None
        gate.set()
        await settle(app, pilot)
        assert "26" in str(box.query_one(".answer-text").render())


async def test_save_writes_markdown_with_every_citation(built, tmp_path):
    app = chat(built)
    out = tmp_path / "chat.md"
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        box = await ask(app, pilot, "How much does North Derbyshire CCG have to save?")
        app.query_one("#question").value = f"/save {out}"
        await pilot.press("enter")
        await pilot.pause()
    md = out.read_text()
    assert md.startswith("# qa conversation") and "## How much does North Derbyshire CCG have to save?" in md
    for item in box.query(CitationItem):
        c = item.citation
        assert f"`{c.doc_id}` characters {c.start}–{c.end}" in md and c.quote.splitlines()[0] in md


async def test_reindex_makes_a_new_article_answerable(built, tmp_path):
    cfg = Config(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    shutil.copytree(built.corpus_dir, cfg.corpus_dir)
    shutil.copytree(built.index_dir, cfg.index_dir)
    app = chat(cfg)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        (cfg.corpus_dir / "wakefield.txt").write_text(
            "Wakefield CCG was rated outstanding after cutting A&E waiting times by a third.\n"
        )
        await command(app, pilot, "/reindex")
        assert "up to date" in app.sub_title
        box = await ask(app, pilot, "Which CCG cut A&E waiting times by a third?")
        assert [i.citation.doc_id for i in box.query(CitationItem)][0] == "wakefield"


async def test_article_markup_and_escapes_are_shown_as_text(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "evil.txt").write_text(
        "Evil CCG [bold red]shouted[/] about [link=file:///etc/passwd]budgets[/link] and [@click=app.quit]quit[/].\n"
        "The \x1b[31mred\x1b[0m Evil CCG board met on Tuesday to discuss its overspend.\n"
    )
    app = chat(Config(corpus_dir=corpus, index_dir=tmp_path / "index"))
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        box = await ask(app, pilot, "What did Evil CCG shout about budgets?")
        rendered = " ".join(str(w.render()) for w in box.query(CitationItem))
        assert "[bold red]shouted[/]" in rendered and "[@click=app.quit]" in rendered
        assert "\x1b" not in rendered
        assert app.is_running


async def test_input_history_help_clear_and_unknown_commands(built):
    app = chat(built)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await ask(app, pilot, "Who is Chesterfield's MP?")
        await ask(app, pilot, "Who is the clinical chair of Doncaster CCG?")
        field = app.query_one("#question")
        await pilot.press("up")
        assert field.value == "Who is the clinical chair of Doncaster CCG?"
        await pilot.press("up")
        assert field.value == "Who is Chesterfield's MP?"
        await pilot.press("down", "down")
        assert field.value == ""
        field.value = "/help"
        await pilot.press("enter")
        await pilot.pause()
        assert "/reindex" in str(list(app.query(".note"))[-1].render())
        field.value = "/bogus"
        await pilot.press("enter")
        await pilot.pause()
        assert any("unknown command /bogus" in n.message for n in app._notifications)
        field.value = "/clear"
        await pilot.press("enter")
        await pilot.pause()
        assert not list(app.query(AnswerBox)) and app.turns == []


async def test_load_problems_become_notifications(tmp_path):
    app = chat(Config(corpus_dir=tmp_path / "missing", index_dir=tmp_path / "index"))
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        notes = [n for n in app._notifications]
        assert any(n.severity == "error" and "missing does not exist" in n.message for n in notes)
        assert app.session is None and app.is_running
    empty = tmp_path / "empty"
    empty.mkdir()
    app = chat(Config(corpus_dir=empty, index_dir=tmp_path / "index"))
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert errors == [f"no articles in {empty}: put articles in the corpus folder, then type /reindex"]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.txt").write_text("Hull CCG was rated outstanding.")
    (corpus / "broken.txt").write_bytes(bytes(range(256)) * 8)
    app = chat(Config(corpus_dir=corpus, index_dir=tmp_path / "index2"))
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any(n.severity == "warning" and n.message.startswith("broken.txt") for n in app._notifications)
        assert app.session is not None


class Watched:
    """An engine wrapper that records each question and how many were answered at once."""

    def __init__(self, engine, fail: bool = False) -> None:
        self.engine, self.retriever, self.store = engine, engine.retriever, engine.store
        self.fail = fail
        self.gate = threading.Event()  # questions are answered once the test opens it
        self.asked: list[str] = []
        self.running = self.most = 0
        self.lock = threading.Lock()

    def ask(self, question, history=None, **kwargs):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.asked.append(question)
        try:
            self.gate.wait(10)
            if self.fail:
                raise RuntimeError("the disk is on fire")
            return self.engine.ask(question, history, **kwargs)
        finally:
            with self.lock:
                self.running -= 1


def watched_factory(fail: bool = False, hold: bool = False):
    def factory(cfg, progress, sync="needed") -> Session:
        session = fake_session(cfg, progress, sync)
        engine = Watched(session.engine, fail)
        if not hold:
            engine.gate.set()
        return Session(session.cfg, engine, session.index, session.report)

    return factory


async def test_an_engine_error_is_a_notification_and_the_chat_stays_up(built):
    app = chat(built, watched_factory(fail=True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        box = await ask(app, pilot, "Why was North Derbyshire rated inadequate?")
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert errors == ["RuntimeError: the disk is on fire"]
        assert app.is_running and not box.has_class("pending") and "disk is on fire" in str(box.children[0].render())
        box = await ask(app, pilot, "Who is Chesterfield's MP?")  # the chat still takes questions
        assert not box.has_class("pending") and len(app.session.engine.asked) == 2


async def test_a_failing_reindex_is_a_notification_and_the_chat_keeps_its_index(built):
    calls = []

    def factory(cfg, progress, sync="needed"):
        calls.append(sync)
        if sync == "always":
            raise RuntimeError("no space left")
        return fake_session(cfg, progress, sync)

    app = chat(built, factory)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await command(app, pilot, "/reindex")
        assert calls == ["needed", "always"]
        assert any(n.severity == "error" and n.message == "RuntimeError: no space left" for n in app._notifications)
        box = await ask(app, pilot, "Why was North Derbyshire rated inadequate?")
        assert app.is_running and list(box.query(CitationItem))


async def test_quick_questions_are_answered_one_at_a_time_in_order(built):
    first, second = "Why was North Derbyshire rated inadequate?", "How much does it have to save?"
    app = chat(built, watched_factory(hold=True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for question in (first, second):
            app.query_one("#question").value = question
            await pilot.press("enter")
        assert app.asking is app.turns[0] and list(app.queue) == [app.turns[1]]  # the first is still running
        engine = app.session.engine
        engine.gate.set()
        await settle(app, pilot)
        assert engine.most == 1 and engine.asked == [first, second]
        assert [t.answer.question for t in app.turns] == [first, second]
        assert not any(box.has_class("pending") for box in app.query(AnswerBox))


async def test_errors_name_the_chat_remedy_not_the_cli_one(built, tmp_path):
    from qa.errors import IndexCorrupt

    def damaged(cfg, progress, sync="needed"):
        raise IndexCorrupt(f"the index in {cfg.index_dir} is damaged")

    app = chat(built, damaged)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert errors == [f"the index in {built.index_dir} is damaged: type /reindex to rebuild it"]
    cfg = Config(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    shutil.copytree(built.index_dir, cfg.index_dir)  # an index whose corpus folder has gone: not used
    app = chat(cfg)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await command(app, pilot, "/reindex")
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert errors == [f"corpus folder {cfg.corpus_dir} does not exist: "
                          "create it and type /reindex, or quit and start the chat with --corpus DIR"] * 2
        assert app.session is None and app.is_running


# --- snapshots of the main states (pytest-textual-snapshot; update with --snapshot-update) ----

def test_snapshot_loading(built, snap_compare):
    gate = threading.Event()

    def never_ready(cfg, progress, sync="needed"):
        gate.wait(5)
        raise RuntimeError("stopped")

    assert snap_compare(chat(built, never_ready), terminal_size=SIZE)
    gate.set()


def _asking(question: str, then: tuple[str, ...] = ()):
    async def run_before(pilot) -> None:
        app = pilot.app
        await app.workers.wait_for_complete()
        await ask(app, pilot, question)
        for key in then:
            await pilot.press(key)
        await pilot.pause()

    return run_before


def test_snapshot_answer_with_sources(built, snap_compare):
    assert snap_compare(chat(built), terminal_size=SIZE, run_before=_asking("Why was North Derbyshire rated inadequate?"))


def test_snapshot_abstention(built, snap_compare):
    assert snap_compare(chat(built), terminal_size=SIZE, run_before=_asking("What rating did Manchester CCG get?"))


def test_snapshot_source_viewer(built, snap_compare):
    assert snap_compare(chat(built), terminal_size=SIZE,
                        run_before=_asking("How much does North Derbyshire CCG have to save?", ("ctrl+n",)))


def test_chat_quits_when_its_terminal_hangs_up(built):
    """Closing the terminal window ends the chat, even when the hangup signal goes elsewhere (`make run`)."""
    env = {**os.environ, "QA_CORPUS": str(built.corpus_dir), "QA_INDEX": str(built.index_dir), "TERM": "xterm"}
    exited = False
    pid, master = pty.fork()
    if pid == 0:  # a shell leads the terminal's session, as make does; the hangup signal never reaches the chat
        os.execve("/bin/sh", ["sh", "-c", 'trap "" HUP; "$0" -c "$1" chat; :', sys.executable, HARNESS], env)
    try:
        seen, deadline = b"", time.time() + 60
        while b"Ask about" not in seen and time.time() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert b"Ask about" in seen, "the chat never painted"
        os.close(master)  # the window closes
        deadline = time.time() + 30
        while time.time() < deadline and not exited:
            exited = os.waitpid(pid, os.WNOHANG) != (0, 0)
            time.sleep(0.2)
    finally:
        if not exited:  # the shell and the chat share the session's process group
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert exited, "the chat kept running after its terminal hung up"


# --- issue 12: the rough edges of the first hour -------------------------------------------------

LONG_QUESTIONS = (
    "Why was North Derbyshire rated inadequate?",
    "Why was Cambridgeshire and Peterborough CCG rated inadequate?",
    "How much does North Derbyshire CCG have to save?",
)


async def test_each_new_answer_is_scrolled_into_view_with_its_question(built):
    app = chat(built)
    async with app.run_test(size=(90, 30)) as pilot:
        await settle(app, pilot)
        for question in LONG_QUESTIONS:
            box = await ask(app, pilot, question)
            await pilot.pause()
            screen = screen_text(app)
            first = list(box.query(CitationItem))[0].citation
            assert question in screen, f"the question {question!r} scrolled away"
            assert f"[1] {first.title[:30]}" in screen, f"the first source of {question!r} is off screen"


async def test_page_keys_scroll_the_transcript_and_the_input_keeps_focus(built):
    app = chat(built)
    async with app.run_test(size=(90, 30)) as pilot:
        await settle(app, pilot)
        for question in LONG_QUESTIONS:
            await ask(app, pilot, question)
        transcript = app.query_one("#transcript")
        await pilot.press("ctrl+end")
        await pilot.pause()
        bottom = transcript.scroll_y
        assert bottom == transcript.max_scroll_y > 0
        await pilot.press("pageup")
        await pilot.pause()
        assert transcript.scroll_y < bottom and app.focused is app.query_one("#question")
        await pilot.press("pagedown")
        await pilot.pause()
        assert transcript.scroll_y == bottom
        await pilot.press("ctrl+home")
        await pilot.pause()
        assert transcript.scroll_y == 0 and app.focused is app.query_one("#question")


async def test_ctrl_n_and_ctrl_p_start_from_the_latest_answers_sources(built):
    app = chat(built)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        old = await ask(app, pilot, "Why was North Derbyshire rated inadequate?")
        assert len(list(old.query(CitationItem))) >= 2
        await pilot.press("ctrl+n")  # the old answer's first source
        await pilot.pause()
        new = await ask(app, pilot, "Why was Cambridgeshire and Peterborough CCG rated inadequate?")
        latest = [i.citation.quote for i in new.query(CitationItem)]
        area = app.query_one("#source-text")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert area.selected_text == latest[0]
        new = await ask(app, pilot, "How much does North Derbyshire CCG have to save?")
        latest = [i.citation.quote for i in new.query(CitationItem)]
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert area.selected_text == latest[-1]


def _copy(built: Config, tmp_path) -> Config:
    cfg = Config(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    shutil.copytree(built.corpus_dir, cfg.corpus_dir)
    shutil.copytree(built.index_dir, cfg.index_dir)
    return cfg


NEW_ARTICLE = "Wakefield CCG was rated outstanding after cutting A&E waiting times by a third.\n"


async def test_the_chat_notices_a_changed_corpus_while_idle_and_offers_to_sync(built, tmp_path):
    cfg = _copy(built, tmp_path)
    app = chat(cfg)
    app.STALE_CHECK_S = 3600  # the test runs the idle check itself: no timing involved
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "up to date" in app.sub_title
        (cfg.corpus_dir / "wakefield.txt").write_text(NEW_ARTICLE)
        app._check_stale()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "corpus changed: /reindex" in app.sub_title
        offers = [n.message for n in app._notifications if "/reindex" in n.message]
        assert len(offers) == 1
        await command(app, pilot, "/reindex")
        assert "up to date" in app.sub_title


async def test_the_chat_checks_the_corpus_before_each_question(built, tmp_path):
    cfg = _copy(built, tmp_path)
    app = chat(cfg)
    app.STALE_CHECK_S = 3600  # no idle check: only the one before the question can notice
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        (cfg.corpus_dir / "wakefield.txt").write_text(NEW_ARTICLE)
        await ask(app, pilot, "Which CCG cut A&E waiting times by a third?")
        assert "corpus changed: /reindex" in app.sub_title
        assert any("/reindex" in n.message for n in app._notifications)


async def test_a_long_paste_is_refused_before_it_is_echoed_and_stays_in_the_input(built):
    app = chat(built)
    pasted = ("The North Derbyshire CCG board met to discuss its budget. " * 90)[:5000]
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        field = app.query_one("#question")
        field.value = pasted
        await pilot.press("enter")
        await pilot.pause()
        assert not list(app.query(".question")) and not list(app.query(AnswerBox)) and app.turns == []
        assert field.value == pasted
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert len(errors) == 1 and f"{built.max_question_chars:,}" in errors[0] and "5,000" in errors[0]


async def test_the_source_header_shows_date_and_offsets_at_160_columns(built):
    app = chat(built)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        box = await ask(app, pilot, "Why was North Derbyshire rated inadequate?")
        await pilot.press("ctrl+n")
        await pilot.pause()
        c = list(box.query(CitationItem))[0].citation
        header = " ".join(shown(app.query_one("#source-title")).split())
        assert c.date and c.date in header and f"{c.doc_id} [{c.start}:{c.end}]" in header
        assert " ".join(c.title.split()[-3:]) in header  # the end of the title too


async def test_related_reading_shows_dates(built):
    app = chat(built)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        box = await ask(app, pilot, "What rating did Manchester CCG get?")
        related = list(box.query(".related"))
        assert box.has_class("abstained") and related
        for item in related:
            article = app.session.article(item.passage.doc_id)
            assert article.date and f"({article.date}" in shown(item)


def _corpus_titles(cfg: Config) -> list[dict]:
    import json

    return [json.loads(p.read_text()) for p in sorted(cfg.corpus_dir.glob("*.meta.json"))]


async def test_the_empty_chat_welcomes_with_topics_from_the_corpus(built):
    app = chat(built)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        welcome = words(shown(app.query_one(".welcome")))
        assert "/articles" in welcome and "Try asking about" in welcome
        named = [m["title"] for m in _corpus_titles(built) if words(m["title"])[:40] in welcome]
        assert 2 <= len(named) <= 3
    again = chat(built)
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        assert words(shown(again.query_one(".welcome"))) == welcome  # the same examples every time


async def test_input_history_is_kept_between_sessions(built, history_file):
    first = chat(built)
    async with first.run_test(size=SIZE) as pilot:
        await settle(first, pilot)
        await ask(first, pilot, "Who is Chesterfield's MP?")
        await command(first, pilot, "")  # an empty line is not history
        await ask(first, pilot, "Who is the clinical chair of Doncaster CCG?")
    second = chat(built)
    async with second.run_test(size=SIZE) as pilot:
        await settle(second, pilot)
        field = second.query_one("#question")
        await pilot.press("up")
        assert field.value == "Who is the clinical chair of Doncaster CCG?"
        await pilot.press("up")
        assert field.value == "Who is Chesterfield's MP?"
        await pilot.press("up")
        assert field.value == "Who is Chesterfield's MP?"  # nothing older


async def test_input_history_is_bounded_and_a_damaged_file_is_ignored(built, history_file):
    history_file.write_text("".join(f"question {i}\n" for i in range(700)))
    app = chat(built)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        history = app.query_one("#question").history
        assert len(history) == 500 and history[-1] == "question 699" and history[0] == "question 200"
    history_file.write_bytes(bytes(range(256)) * 4)
    app = chat(built)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.query_one("#question").history == []
        await ask(app, pilot, "Who is Chesterfield's MP?")
        assert app.is_running
    history_file.unlink()
    history_file.mkdir()  # unreadable and unwritable
    app = chat(built)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, "Who is Chesterfield's MP?")
        assert app.is_running and app.query_one("#question").history == ["Who is Chesterfield's MP?"]


async def test_articles_command_lists_title_date_and_source(built):
    app = chat(built)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await command(app, pilot, "/articles")
        listing = words(shown(list(app.query(".note"))[-1]))
        metas = _corpus_titles(built)
        assert len(metas) == 5 and listing.startswith("5 articles loaded")
        for meta in metas:
            assert words(f"{meta['title']} ({', '.join(x for x in (meta['date'], meta.get('source')) if x)})") in listing
        await command(app, pilot, "/help")
        assert "/articles" in str(list(app.query(".note"))[-1].render())


async def test_a_source_card_shows_one_line_of_context_each_side(built):
    from qa.render import CONTEXT_CHARS

    app = chat(built)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        box = await ask(app, pilot, "Why was North Derbyshire rated inadequate?")
        for item in box.query(CitationItem):
            c = item.citation
            card = str(item.render()).split("\n", 1)[1]
            quote = " ".join(c.quote.split())
            before, after = card.split(quote, 1)
            assert len(before.strip()) <= CONTEXT_CHARS + 1 and len(after.strip()) <= CONTEXT_CHARS + 1
        long_context = [i.citation for i in box.query(CitationItem) if len(i.citation.context) - len(i.citation.quote) > 2 * CONTEXT_CHARS + 2]
        assert long_context, "no card had context to cut"


QUITTER = (
    "import sys, threading; import qa.session; "
    "qa.session.open_session = lambda *a, **k: threading.Event().wait(); "  # a model that never finishes loading
    "from qa.cli import main; main(sys.argv[1:])"
)


def test_quitting_while_the_model_loads_exits_at_once(built, tmp_path):
    """Ctrl+Q while the model is still loading ends the chat without waiting for the load."""
    env = {**os.environ, "QA_CORPUS": str(built.corpus_dir), "QA_INDEX": str(built.index_dir), "TERM": "xterm",
           "QA_HISTORY": str(tmp_path / "history")}
    pid, master = pty.fork()
    if pid == 0:
        os.execve(sys.executable, [sys.executable, "-c", QUITTER, "chat"], env)
    exited = False
    try:
        seen, deadline = b"", time.time() + 60
        while b"Ask about" not in seen and time.time() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 65536)
        assert b"Ask about" in seen, "the chat never painted"
        os.write(master, b"\x11")  # Ctrl+Q
        deadline = time.time() + 30
        while time.time() < deadline and not exited:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    pass
            exited = os.waitpid(pid, os.WNOHANG) != (0, 0)
    finally:
        if not exited:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(master)
    assert exited, "the chat waited for the model to load before quitting"


async def test_the_source_ctrl_n_opens_is_in_view_in_the_transcript_and_the_viewer(built):
    app = chat(built)
    async with app.run_test(size=(90, 30)) as pilot:
        await settle(app, pilot)
        for question in LONG_QUESTIONS[:2]:
            box = await ask(app, pilot, question)
        await pilot.press("ctrl+home")  # read back to the start, then jump to the latest answer's first source
        await pilot.press("ctrl+n")
        await pilot.pause()
        item = list(box.query(CitationItem))[0]
        shown_at = app.query_one("#transcript").content_region
        assert item.has_class("current") and shown_at.contains(item.region.x, item.region.y)  # its first line in view
        area = app.query_one("#source-text")
        assert area.scrollable_content_region.height > 0
        row = area.selection.end[0]
        assert area.scroll_offset.y <= row < area.scroll_offset.y + area.scrollable_content_region.height


async def test_since_and_until_filter_answers_by_date_and_show_in_the_header(built):
    app = chat(built)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await command(app, pilot, "/since 2019")
        assert "dated since 2019" in app.sub_title
        box = await ask(app, pilot, "How many CCGs were rated inadequate?")
        dates = [item.citation.date for item in box.query(CitationItem)]
        assert dates and all(d[:4] >= "2019" for d in dates)
        await command(app, pilot, "/until 2016-13")  # malformed: a notification, the filter unchanged
        assert any("--until" not in n.message and "takes a year" in n.message for n in app._notifications)
        assert app.dates.until is None and "dated since 2019" in app.sub_title
        await command(app, pilot, "/since")
        assert not app.dates.active and "dated" not in app.sub_title


async def test_asked_sets_the_day_questions_are_asked_on_and_shows_it_in_the_header(built):
    app = chat(built)
    question = "How has the number of inadequate CCGs changed over the years?"
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        before = datetime.date.today().isoformat()
        today = await ask(app, pilot, question)
        assert app.turns[-1].answer.asked in {before, datetime.date.today().isoformat()}
        assert app.turns[-1].answer.kind == "timeline" and "2020" in [i.citation.date for i in today.query(CitationItem)]
        await command(app, pilot, "/asked 2019-06-30")
        assert "asked 2019-06-30" in app.sub_title
        assert any("later articles are left out" in n.message for n in app._notifications)  # says what the day does
        box = await ask(app, pilot, question)
        assert app.turns[-1].answer.asked == "2019-06-30" and app.turns[-1].answer.kind == "timeline"
        dates = [item.citation.date[:4] for item in box.query(CitationItem)]
        assert len(set(dates)) >= 2 and max(dates) <= "2019"  # the 2020 article was not yet news
        await command(app, pilot, "/asked 2017-02-30")  # not a day: a notification, the day unchanged
        assert any("/asked takes a date" in n.message for n in app._notifications)
        assert app.asked_on == "2019-06-30"
        await command(app, pilot, "/asked")
        assert app.asked_on == "" and "asked" not in app.sub_title


async def test_a_question_keeps_the_day_and_dates_it_was_typed_under(built):
    app = chat(built, watched_factory(hold=True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await command(app, pilot, "/asked 2019-06-30")
        await command(app, pilot, "/since 2017")
        for question in ("Why was North Derbyshire rated inadequate?", "How many CCGs were rated inadequate?"):
            app.query_one("#question").value = question
            await pilot.press("enter")
        assert list(app.queue) == [app.turns[-1]]  # still waiting when the day and the filter change
        for text in ("/asked", "/since"):
            app.query_one("#question").value = text
            await pilot.press("enter")
        assert not app.asked_on and not app.dates.active
        app.session.engine.gate.set()
        await settle(app, pilot)
        turn = app.turns[-1]
        assert turn.answer.asked == "2019-06-30" and turn.answer.citations
        # from 2017 (the filter it was typed under) to its day (2020's article was not news yet)
        assert all("2017" <= c.date[:4] <= "2019" for c in turn.answer.citations)
        assert all(p.date[:4] != "2020" for p in turn.answer.passages)
