"""Rich renderables for answers (CLI); article text always goes in as Text, never as markup."""

from __future__ import annotations

import re

from rich.console import Group
from rich.padding import Padding
from rich.text import Text

from qa.answer import Answer, Citation
from qa.answer.short import ShortAnswer
from qa.messages import NO_ANSWER, RELATED_READING, UNDATED, also_in, offsets, source_meta

SHORT_STYLE = "bold underline reverse"  # the short answer inside its quote
CONTEXT_CHARS = 80  # about one line of context each side of a quote; the source viewer shows the rest


def snippet(text: str, limit: int = 240) -> str:
    """Text on one line, cut at a word boundary with an ellipsis when longer than limit."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def source_line(c: Citation) -> Text:
    """`[n] Title (date, source)  doc_id [start:end]`: a citation's source, as the CLI and the chat show it."""
    return Text.assemble(
        (f"[{c.n}] ", "bold cyan"), (c.title, "bold"), source_meta(c.date, c.source), (f"  {offsets(c)}", "dim"),
    )


def also_in_line(places: list[tuple[str, str, str, int, int]]) -> Text:
    """`also in N other articles: Title (date) doc_id [start:end]; ...` for (title, date, doc_id, start, end)."""
    parts: list = [(also_in(len(places)) + ": ", "italic")]
    for i, (title, date, doc_id, start, end) in enumerate(places):
        parts += [("; " if i else "", ""), (title, ""), (source_meta(date, ""), ""), (f" {doc_id} [{start}:{end}]", "dim")]
    return Text.assemble(*parts)


def citation_also_in(c: Citation) -> Text | None:
    """The other articles saying what a citation quotes, as one line (None when there are none)."""
    return also_in_line([(s.title, s.date, s.doc_id, s.start, s.end) for s in c.also_in]) if c.also_in else None


def source_header(c: Citation) -> Text:
    """The source viewer's header: `[n] Title`, then date, source and offsets on a line of their own."""
    meta = ", ".join(x for x in (c.date, c.source) if x)
    return Text.assemble(
        (f"[{c.n}] ", "bold cyan"), (c.title, "bold"), "\n", (f"{meta}  " if meta else "", ""), (offsets(c), "dim"),
    )


def _tail(text: str, limit: int) -> str:
    """The last words of text, about limit characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else "…" + text[len(text) - limit + 1:].split(" ", 1)[-1]


def quote_in_context(c: Citation, context_chars: int = CONTEXT_CHARS, short: ShortAnswer | None = None) -> Text:
    """The quote highlighted, with about one line (context_chars) of its context each side; the short answer,
    when it lies in this quote, marked inside it."""
    a = c.start - c.context_start
    b = a + len(c.quote)
    ctx = c.context
    before, after = _tail(ctx[:a], context_chars), snippet(ctx[b:], context_chars)
    quote = Text(" ".join(ctx[a:b].split()), style="bold yellow")
    if short is not None and short.doc_id == c.doc_id and c.start <= short.start < short.end <= c.end:
        lo = len(re.sub(r"\s+", " ", c.quote[:short.start - c.start]).lstrip())
        quote.stylize(SHORT_STYLE, lo, lo + len(re.sub(r"\s+", " ", short.text)))
    return Text.assemble((before + (" " if before else ""), "dim"), quote, ((" " if after else "") + after, "dim"))


def short_line(short: ShortAnswer) -> Text:
    """The short answer as it leads an answer: bold (plain when piped), never read as markup."""
    return Text(" ".join(short.text.split()), style="bold")


def timeline_list(citations: list[Citation]):
    """A timeline answer as a dated list: each entry led by its article's date, its quote wrapped beside it."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column()
    for c in citations:
        # the date is article metadata: text, never markup
        grid.add_row(Text(c.date or UNDATED), Text.assemble(" ".join(c.quote.split()), (f" [{c.n}]", "cyan")))
    return grid


def answer_renderables(answer: Answer) -> list:
    """What `qa ask` prints: the answer, then its sources (or the related reading after an abstention)."""
    items: list = []
    if answer.abstained:
        items.append(Text(NO_ANSWER, style="bold magenta"))
        if answer.passages:
            items.append(Text("\n" + RELATED_READING, style="dim"))
            for p in answer.passages[:3]:
                items.append(Padding(Group(Text.assemble(("• ", "dim"), (p.title, "bold"), (f"  {offsets(p)}", "dim")),
                                           Text(snippet(p.text), style="dim")), (0, 0, 0, 2)))
        return items
    if answer.short_answer is not None:
        items.append(short_line(answer.short_answer))
    items.append(timeline_list(answer.citations) if answer.kind == "timeline" else Text(answer.answer))
    items.append(Text("\nSources", style="bold underline"))
    for c in answer.citations:
        items.append(source_line(c))
        quote, also = quote_in_context(c, short=answer.short_answer), citation_also_in(c)
        items.append(Padding(Group(quote, also) if also else quote, (0, 0, 1, 4)))
    return items


def _fmt(key: str, value: float) -> str:
    if value != value:
        return "–"
    return f"{value:.1f}" if key.startswith("latency") else f"{value:.3f}"


def eval_table(report: dict, baseline: dict | None = None):
    """The metrics of an eval report, with deltas against a baseline report's metrics."""
    from rich.table import Table

    from qa.evaluate import LOWER_IS_BETTER

    compare = report.get("compare") or {}
    others = [m for m in compare if m != report.get("retriever")]
    title = f"qa eval: {report['n']} questions, retriever {report.get('retriever', 'hybrid')}"
    table = Table(title=title, min_width=len(title))  # as wide as its title, which then never wraps
    table.add_column("metric")
    table.add_column(report.get("retriever", "value"), justify="right")
    for m in others:
        table.add_column(m, justify="right")
    if baseline:
        table.add_column("baseline", justify="right")
        table.add_column("delta", justify="right")
    for key, value in {**report["metrics"], **report.get("extra_metrics", {})}.items():
        row = [key, _fmt(key, value)] + [_fmt(key, compare[m].get(key, float("nan"))) for m in others]
        if baseline:
            old = baseline.get(key, float("nan"))
            delta = value - old if old == old and value == value else float("nan")
            better = (delta < 0) if key in LOWER_IS_BETTER or key == "answerable_declined" else (delta > 0)
            style = "" if delta != delta or abs(delta) < 1e-9 else ("green" if better else "red")
            row += [_fmt(key, old), Text(("+" if delta > 0 else "") + _fmt(key, delta), style=style)]
        table.add_row(*row)
    return table


def failures_table(report: dict):
    """The questions that went wrong: expected against what came back."""
    from rich.table import Table

    from qa.evaluate import Outcome

    table = Table(title="failures", show_lines=True)
    for col in ("id", "question", "expected", "got"):
        table.add_column(col, overflow="fold")
    for q in report["questions"]:
        if Outcome(**q).failed:
            got = "(abstained)" if q["abstained"] else q["answer"][:300]
            table.add_row(Text(q["id"]), Text(q["question"]), Text(q["expected"][:200]), Text(got))
    return table
