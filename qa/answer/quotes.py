"""Who is speaking: the attribution ("Simon Evans, of NHS England, said:") of each sentence inside a quotation.

News quotes run over several paragraphs: each opens with a quote mark, only the last one closes, and
only the first names the speaker. A sentence deep in such a quote still says what that speaker said,
and "He added: ‘...’" is said by the last speaker the article named.
"""

from __future__ import annotations

import bisect
import re
from typing import Sequence

OPENING = ("“", '"', "‘")
# the words before a quote that say someone speaks: "said: “", "added ‘", "told the BBC: “"
INTRO = re.compile(r"\b(?:said|says|added|adds|continued|explained|commented|stated|warned|told [\w’' ]{1,30}?)\s*[:,]?\s*[“\"‘]", re.I)
# an attribution by pronoun ("He added:") names nobody: its speaker is the last one named
PRONOUN = re.compile(r"^\W*(?:he|she|they)\b", re.I)
_SINGLE_CLOSE = re.compile(r"’(?![A-Za-z])")  # a closing mark, not an apostrophe ("aren’t")


def _unclosed(text: str) -> bool:
    """Whether a quotation opened in the text is still open at its end."""
    return (
        text.count("“") > text.count("”")
        or text.count('"') % 2 == 1
        or text.count("‘") > len(_SINGLE_CLOSE.findall(text))
    )


def _quote_start(text: str) -> int:
    """Where the quote the text introduces opens: after "said:" when it has one, else its last opening mark (-1: none)."""
    m = INTRO.search(text)
    if m:
        return m.end() - 1
    return max(text.rfind("“"), text.rfind('"') if text.count('"') % 2 == 1 else -1, text.rfind("‘"))


def _paragraphs(text: str, spans: Sequence[tuple[int, int]]) -> list[list[int]]:
    """The sentence indices of each paragraph (a line of the text), in order."""
    line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    paragraphs: list[list[int]] = []
    last_line = -1
    for i, (start, _) in enumerate(spans):
        line = bisect.bisect_right(line_starts, start) - 1
        if line != last_line:
            paragraphs.append([])
            last_line = line
        paragraphs[-1].append(i)
    return paragraphs


def attributions(text: str, spans: Sequence[tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """For each sentence inside a quotation, the span of the words that introduce it ("X said:").

    A pronoun attribution ("He added:") resolves to the last named one, and then its own sentence,
    which names nobody, counts as inside the quotation too."""
    out: dict[int, tuple[int, int]] = {}
    speaker: tuple[int, int] | None = None
    named: tuple[int, int] | None = None  # the last attribution that names someone
    for para in _paragraphs(text, spans):
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
            speaker = named = _resolve((p_start, p_end), text, named)
            continue
        if not (_unclosed(body) or INTRO.search(body)):
            continue
        cut = p_start + _quote_start(body)  # "Toby Perkins said: “It was ..." perhaps running on
        opener = max(i for i in para if spans[i][0] <= cut)
        intro = (spans[opener][0], cut)
        speaker = _resolve(intro, text, named)
        if speaker != intro:
            out[opener] = speaker
        named = speaker
        out.update({i: speaker for i in para if spans[i][0] > cut})
        if not _unclosed(body):
            speaker = None
    return {i: span for i, span in out.items() if span[1] > span[0]}


def _resolve(intro: tuple[int, int], text: str, named: tuple[int, int] | None) -> tuple[int, int]:
    """The attribution itself, or the last named one when it is only a pronoun ("He added:")."""
    return named if named is not None and PRONOUN.match(text[intro[0]:intro[1]]) else intro
