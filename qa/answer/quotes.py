"""Who is speaking: the attribution ("Simon Evans, of NHS England, said:") of each sentence inside a quotation.

News quotes run over several paragraphs: each opens with a quote mark, only the last one closes, and
only the first names the speaker. A sentence deep in such a quote still says what that speaker said.
"""

from __future__ import annotations

import bisect
from typing import Sequence

OPENING = ("“", '"')


def _unclosed(text: str) -> bool:
    """Whether a quotation opened in the text is still open at its end."""
    return text.count("“") > text.count("”") or text.count('"') % 2 == 1


def _quote_start(text: str) -> int:
    """Where the last opening quote mark in the text is (-1 when there is none)."""
    return max(text.rfind("“"), text.rfind('"') if text.count('"') % 2 == 1 else -1)


def attributions(text: str, spans: Sequence[tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """For each sentence inside a quotation, the span of the words that introduce it ("X said:")."""
    line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    paragraphs: list[list[int]] = []
    last_line = -1
    for i, (start, _) in enumerate(spans):
        line = bisect.bisect_right(line_starts, start) - 1
        if line != last_line:
            paragraphs.append([])
            last_line = line
        paragraphs[-1].append(i)
    out: dict[int, tuple[int, int]] = {}
    speaker: tuple[int, int] | None = None
    for para in paragraphs:
        p_start, p_end = spans[para[0]][0], spans[para[-1]][1]
        body = text[p_start:p_end]
        if body.startswith(OPENING):
            if speaker is not None:
                out.update(dict.fromkeys(para, speaker))
            if not _unclosed(body):
                speaker = None
            continue
        speaker = None
        if body.rstrip().endswith(":"):  # "Simon Evans, locality director, said:" then the quote
            speaker = (p_start, p_end)
        elif _unclosed(body):  # "Toby Perkins said: “It was ..." running on into the next paragraphs
            cut = p_start + _quote_start(body)
            opener = max(i for i in para if spans[i][0] <= cut)
            speaker = (spans[opener][0], cut)
            out.update({i: speaker for i in para if spans[i][0] > cut})
    return {i: span for i, span in out.items() if span[1] > span[0]}
