"""Alignment and lexicalised features of candidate spans (SQuAD's logistic-regression baseline, in small).

Alignment: the question's words, weighted by rarity (IDF over squad-train's evidence sentences, stored with the
weights), found in windows of several sizes left and right of a span, and the distance to the rarest of them.
Lexicalised: the question's wh-phrase ("how many", "what year", "who") crossed with the span's type, first and
last word, the words before and after it and its length, each word kept only when it is in a fixed vocabulary
of frequent training words (else its shape, "Xx" or "d"), so the learned table stays small.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from qa.answer.question import Question
from qa.lexical import tokenize

SIDES = (1, 2, 3, 5, 10)  # window sizes, in words, each side of a span
ALIGN = (
    *(f"l{k}" for k in SIDES), *(f"r{k}" for k in SIDES), *(f"b{k}" for k in SIDES),
    "rare_dist", "rare_missing", "in_order", "count_noun", "focus_next", "focus_prev", "q_idf_in",
)
WH_HEADS = frozenset("what which who whom whose when where why how".split())
_SHAPE = re.compile(r"(.)\1+")


@dataclass(frozen=True)
class Lexicon:
    """Word rarity (IDF by stem, `rare` for a stem not in the table) and the words kept verbatim in crosses."""

    idf: dict[str, float]
    rare: float
    vocab: frozenset[str]

    def weight(self, stem: str) -> float:
        """The stem's IDF."""
        return self.idf.get(stem, self.rare)


EMPTY = Lexicon({}, 1.0, frozenset())


def shape(word: str) -> str:
    """A word's shape: "Dowling" -> "Xx", "2017" -> "d", "£28" -> "£d", "12.5%" -> "d.d%"."""
    s = "".join("X" if ch.isupper() else "x" if ch.isalpha() else "d" if ch.isdigit() else ch for ch in word)
    return _SHAPE.sub(r"\1", s)[:5]


def word_or_shape(word: str, lex: Lexicon) -> str:
    """The word (lower-cased) when the vocabulary holds it, else its shape."""
    low = word.lower()
    return low if low in lex.vocab else "~" + shape(word)


def wh_phrase(q: Question, lex: Lexicon) -> str:
    """The question's wh-phrase: its question word and the word after ("how many", "what year", "who _")."""
    words = re.findall(r"[\w’'-]+", q.as_read.lower())
    for i, word in enumerate(words):
        if word in WH_HEADS:
            nxt = words[i + 1] if i + 1 < len(words) else ""
            return f"{word} {nxt if nxt in lex.vocab else '_'}"
    return "none"


@dataclass(frozen=True)
class QView:
    """What the alignment features read of a question once: its content stems in order, their IDF, its nouns."""

    stems: tuple[str, ...]  # content stems, in order, each once
    idf: dict[str, float]
    total: float
    noun: str  # the stem of the word after "how many" / the focus word, or ""
    phrase: str


def question_view(q: Question, lex: Lexicon) -> QView:
    """Read the question once for every candidate of a quote."""
    heads = set(tokenize(" ".join(WH_HEADS | {"many", "much"}), keep_stopwords=True))
    stems = tuple(dict.fromkeys(s for s in tokenize(q.as_read) if s not in heads))
    idf = {s: lex.weight(s) for s in stems}
    m = re.search(r"\bhow (?:many|much)\s+([\w’'-]+)", q.as_read, re.I)
    noun_word = m.group(1) if m else (q.focus.text if q.focus else "")
    noun = (tokenize(noun_word, keep_stopwords=True) or [""])[0] if noun_word else ""
    return QView(stems, idf, max(sum(idf.values()), 1e-6), noun, wh_phrase(q, lex))


def hits(stems: tuple[str, ...], qv: QView) -> list[tuple[float, int]]:
    """(IDF, word index) of every question word in a quote."""
    return [(qv.idf[s], i) for i, s in enumerate(stems) if s in qv.idf]


def around(first: int, last: int, stems: tuple[str, ...], qv: QView, at: list[tuple[float, int]], k: int,
           side: str = "b") -> float:
    """The IDF share of the question's words within k words left ("l"), right ("r") or either side ("b") of the span of
    words first..last (not inside it), among a quote's stems (`at`: its `hits`)."""
    lo = max(first - k, 0) if side != "r" else last + 1
    hi = min(last + 1 + k, len(stems)) if side != "l" else first
    seen = {stems[i] for _, i in at if lo <= i < hi and not first <= i <= last}  # only question words weigh
    return sum(qv.idf[s] for s in seen) / qv.total


def align(first: int, last: int, stems: tuple[str, ...], qv: QView, at: list[tuple[float, int]]) -> list[float]:
    """The ALIGN features of the span of words first..last among a quote's stems (`at`: its `hits`)."""
    n = len(stems)
    out = [around(first, last, stems, qv, at, k, side) for side in ("l", "r", "b") for k in SIDES]
    found = [(w, i) for w, i in at if not first <= i <= last]
    if found:
        top = max(w for w, _ in found)
        dist = min(first - i if i < first else i - last for w, i in found if w == top)
        out += [math.log1p(dist), 0.0]
    else:
        out += [math.log1p(20), 1.0]
    out.append(_in_order(first, last, stems, qv, at))
    nxt = stems[last + 1] if last + 1 < n else ""
    prev = stems[first - 1] if first > 0 else ""
    span_in_q = sum(qv.idf.get(stems[i], 0.0) for i in range(first, last + 1)) / qv.total
    out += [float(bool(qv.noun) and nxt == qv.noun and "how" in qv.phrase), float(bool(qv.noun) and nxt == qv.noun),
            float(bool(qv.noun) and prev == qv.noun), span_in_q]
    return out


def _in_order(first: int, last: int, stems: tuple[str, ...], qv: QView, at: list[tuple[float, int]]) -> float:
    """The IDF share of question words found in the question's order within 10 words around the span."""
    order = {s: j for j, s in enumerate(qv.stems)}
    window = [stems[i] for _, i in at if first - 10 <= i <= last + 10 and not first <= i <= last]
    best: dict[int, float] = {}  # longest increasing run of question positions, by IDF, ending at each position
    for s in dict.fromkeys(x for x in window if x in order):
        j = order[s]
        best[j] = qv.idf[s] + max((v for k, v in best.items() if k < j), default=0.0)
    return max(best.values(), default=0.0) / qv.total


def crosses(first: int, last: int, ctype: str, raw: tuple[str, ...], lex: Lexicon, phrase: str) -> list[str]:
    """The lexicalised feature keys of a span: the wh-phrase crossed with its type, words and neighbours."""
    f = word_or_shape(raw[first], lex)
    la = word_or_shape(raw[last], lex)
    p = word_or_shape(raw[first - 1], lex) if first > 0 else "^"
    n = word_or_shape(raw[last + 1], lex) if last + 1 < len(raw) else "$"
    size = str(min(last - first + 1, 5))
    wh = phrase.split(" ")[0]
    return [
        f"{phrase}|t={ctype}", f"{phrase}|f={f}", f"{phrase}|l={la}", f"{phrase}|p={p}", f"{phrase}|n={n}",
        f"{phrase}|len={size}", f"{wh}|t={ctype}|len={size}", f"p={p}", f"n={n}", f"f={f}", f"l={la}",
        f"{wh}|p={p}|n={n}",
    ]
