"""Rich renderables for answers (CLI); article text always goes in as Text, never as markup."""

from __future__ import annotations

from rich.console import Group
from rich.padding import Padding
from rich.text import Text

from qa.answer import Answer, Citation


def source_line(c: Citation) -> Text:
    """`[n] Title (date, source) doc_id [start:end]`."""
    meta = ", ".join(x for x in (c.date, c.source) if x)
    return Text.assemble(
        (f"[{c.n}] ", "bold cyan"), (c.title, "bold"), (f" ({meta})" if meta else "", ""),
        (f"  {c.doc_id} [{c.start}:{c.end}]", "dim"),
    )


def quote_in_context(c: Citation) -> Text:
    """The citation's context with the quote highlighted."""
    a = c.start - c.context_start
    b = a + len(c.quote)
    ctx = c.context
    return Text.assemble(
        (" ".join(ctx[:a].split()) + (" " if ctx[:a].strip() else ""), "dim"),
        (" ".join(ctx[a:b].split()), "bold yellow"),
        ((" " if ctx[b:].strip() else "") + " ".join(ctx[b:].split()), "dim"),
    )


def answer_renderables(answer: Answer) -> list:
    """What `qa ask` prints: the answer, then its sources (or the related reading after an abstention)."""
    items: list = []
    if answer.abstained:
        items.append(Text("The articles don't say.", style="bold magenta"))
        if answer.passages:
            items.append(Text("\nClosest passages (related reading, not an answer):", style="dim"))
            for p in answer.passages[:3]:
                snippet = " ".join(p.text.split())
                snippet = snippet if len(snippet) < 240 else snippet[:239].rsplit(" ", 1)[0] + "…"
                items.append(Padding(Group(Text.assemble(("• ", "dim"), (p.title, "bold"), (f"  {p.doc_id} [{p.start}:{p.end}]", "dim")),
                                           Text(snippet, style="dim")), (0, 0, 0, 2)))
        return items
    items.append(Text(answer.answer))
    items.append(Text("\nSources", style="bold underline"))
    for c in answer.citations:
        items.append(source_line(c))
        items.append(Padding(quote_in_context(c), (0, 0, 1, 4)))
    return items
