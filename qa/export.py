"""Export a conversation as Markdown with every citation (title, offsets, quote)."""

from __future__ import annotations


def _quote_block(text: str) -> str:
    return "\n".join("> " + line for line in text.splitlines() or [""])


def conversation_markdown(turns: list[tuple[str, object]]) -> str:
    """Markdown of (question, Answer) pairs."""
    lines = ["# qa conversation", ""]
    for question, answer in turns:
        lines += [f"## {question}", ""]
        if answer.abstained:
            lines += ["The articles don't say.", ""]
            if answer.passages:
                lines += ["Closest passages (related reading):", ""]
                lines += [f"- {p.title} (`{p.doc_id}` [{p.start}:{p.end}])" for p in answer.passages[:3]]
                lines.append("")
            continue
        lines += [answer.answer, "", "Sources:", ""]
        for c in answer.citations:
            meta = ", ".join(x for x in (c.date, c.source) if x)
            lines.append(f"{c.n}. **{c.title}**" + (f" ({meta})" if meta else "") + f" — `{c.doc_id}` characters {c.start}–{c.end}")
            lines.append("")
            lines.append(_quote_block(c.quote))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
