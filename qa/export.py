"""Export a conversation as Markdown with every citation (title, offsets, quote)."""

from __future__ import annotations

from qa.messages import NO_ANSWER, source_meta


def _quote_block(text: str) -> str:
    return "\n".join("> " + line for line in text.splitlines() or [""])


def conversation_markdown(turns: list[tuple[str, object]]) -> str:
    """Markdown of (question, Answer) pairs."""
    lines = ["# qa conversation", ""]
    for question, answer in turns:
        lines += [f"## {question}", ""]
        if answer.abstained:
            lines += [NO_ANSWER, ""]
            if answer.passages:
                lines += ["Closest passages (related reading):", ""]
                lines += [f"- {p.title} (`{p.doc_id}` [{p.start}:{p.end}])" for p in answer.passages[:3]]
                lines.append("")
            continue
        lines += [answer.answer, "", "Sources:", ""]
        for c in answer.citations:
            lines.append(f"{c.n}. **{c.title}**{source_meta(c.date, c.source)} — `{c.doc_id}` characters {c.start}–{c.end}")
            lines.append("")
            lines.append(_quote_block(c.quote))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
