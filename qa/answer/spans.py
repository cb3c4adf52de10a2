"""Candidate short answers in a quote, each with named features for the span scorer (`qa.answer.short`).

A candidate is a typed span (a number, an amount, a percentage, a date, a run of capitalised words) or any
short run of words that doesn't cross a clause mark, so a span of no type ("a copper statue") can answer too.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from qa.answer.kinds import MONTHS
from qa.answer.question import Question, find_names
from qa.answer.spanlex import ALIGN, EMPTY, Lexicon, align, around, crosses, hits, question_view
from qa.lexical import STOPWORDS, tokenize

MAX_WORDS = 6  # the longest untyped candidate, in words
WORD = re.compile(r"[£$€]?\d[\d,]*(?:\.\d+)?%?|\w+(?:[’'\-.&]\w+)*")
BREAK = re.compile(r"[.;:!?()\[\]\"“”‘\n]|’(?!\w)|\s[-–—]\s")  # a clause mark: no candidate crosses one
CLAUSE = re.compile(r"[,.;:!?()\[\]\n]|\s[-–—]\s")  # a clause ends at a comma too, not at a quote mark
_NUM = r"[£$€]\s?\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?"
_SCALE = r"(?:\s?(?:million|billion|trillion|thousand|bn|m|k)\b)?"
NUMBER_WORDS = r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand)\b"
TYPED = (
    ("percent", re.compile(rf"(?:{_NUM})(?:\s?%|\s+per ?cent\b)", re.I)),
    ("money", re.compile(rf"[£$€]\s?\d[\d,]*(?:\.\d+)?{_SCALE}|\d[\d,]*(?:\.\d+)?{_SCALE}\s(?:pounds|dollars|euros)\b", re.I)),
    ("date", re.compile(rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+)?(?:{MONTHS})\b(?:\s+\d{{1,2}}(?:st|nd|rd|th)?\b)?(?:,?\s+\d{{4}}\b)?")),
    ("year", re.compile(r"\b(?:1[0-9]\d\d|20\d\d)(?:s|[/-]\d\d)?\b")),
    ("number", re.compile(rf"(?<![£$€\w.,])\d[\d,]*(?:\.\d+)?{_SCALE}(?![\w%]|[.,]\d)|{NUMBER_WORDS}", re.I)),
)
WANTED = {  # the candidate types that answer a question's kind (`Question.kind`)
    "count": {"number"}, "quantity": {"number", "money", "percent"}, "percent": {"percent"},
    "money": {"money"}, "date": {"date", "year"},
}
ARTICLES = frozenset({"the", "a", "an"})
PREPOSITIONS = frozenset("in on at by from of to since for during after before until near into".split())
COPULAS = frozenset("is was are were be been became becomes called named known".split())
HOW_MEASURE = re.compile(r"\bhow (?:old|long|far|tall|big|large|often|fast|high|deep|wide|heavy)\b", re.I)
WH = ("who", "when", "where", "which", "what", "why", "how")


@dataclass(frozen=True)
class Candidate:
    """A span of a text (`text[start:end]`), its type ("number", "name", ... or "" for none) and word range."""

    start: int
    end: int
    text: str
    type: str
    first: int  # index of its first word
    last: int  # index of its last word


@dataclass(frozen=True)
class _Words:
    """A text's words with their offsets, lower-cased forms and stems."""

    spans: tuple[tuple[int, int], ...]
    raw: tuple[str, ...]
    lower: tuple[str, ...]
    stems: tuple[str, ...]
    caps: tuple[bool, ...]
    broken: tuple[bool, ...]  # a clause mark between word i and i + 1
    breaks_clause: tuple[bool, ...]  # ... or a comma


def _words(text: str) -> _Words:
    ms = list(WORD.finditer(text))
    lower = tuple(m.group(0).lower() for m in ms)
    stems = tuple((tokenize(m.group(0), keep_stopwords=True) or [w])[0] for m, w in zip(ms, lower))  # "CCGs": "ccg"
    gaps = [text[a.end():b.start()] for a, b in zip(ms, ms[1:])]
    broken = tuple(bool(BREAK.search(g)) for g in gaps) + (True,)
    clauses = tuple(bool(CLAUSE.search(g)) for g in gaps) + (True,)
    caps = tuple(m.group(0)[:1].isupper() for m in ms)
    return _Words(tuple(m.span() for m in ms), tuple(m.group(0) for m in ms), lower, stems, caps, broken, clauses)


def near_question(q: Question, text: str, places: list[tuple[int, int]], lex: Lexicon, k: int) -> list[float]:
    """For each (start, end) of the text, the IDF share of the question's words within k words either side of it
    (`spanlex.around`, as the span scorer's alignment features read them)."""
    words = _words(text)
    qv = question_view(q, lex)
    at = hits(words.stems, qv)
    out = []
    for start, end in places:
        inside = [i for i, (a, b) in enumerate(words.spans) if a < end and b > start]
        out.append(around(inside[0], inside[-1], words.stems, qv, at, k) if inside and k > 0 else 0.0)
    return out


def typed_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, type) of every number, amount, percentage, date and capitalised run, first type winning."""
    out: list[tuple[int, int, str]] = []
    taken: set[tuple[int, int]] = set()
    for kind, pattern in TYPED:
        for m in pattern.finditer(text):
            s, e = m.start(), m.end()
            while e > s and text[e - 1] in " ,":
                e -= 1
            if e > s and (s, e) not in taken:
                taken.add((s, e))
                out.append((s, e, kind))
    at = 0
    for n in find_names(text):
        s = text.find(n.text, at)
        at = s + len(n.text) if s >= 0 else at  # the next name is searched after this one
        first = 1 if n.opens and (len(n.words) == 1 or n.words[0].lower() in STOPWORDS) else 0
        while first < len(n.words) and n.words[first].lower() in STOPWORDS:
            first += 1  # "The Spirit of the Laws" opening a sentence: a name from its second word
        if s < 0 or first >= len(n.words):
            continue
        s += n.starts[first]
        e = s + len(n.text) - n.starts[first]
        if (s, e) not in taken and not text[s:e].isdigit():
            taken.add((s, e))
            out.append((s, e, "name"))
    return out


@dataclass(frozen=True)
class Spans:
    """A quote's candidates, with its words and typed spans (what the features read)."""

    cands: list[Candidate]
    words: _Words
    typed: list[tuple[int, int, str]]


def candidates(text: str) -> Spans:
    """Every typed span and every run of 1 to MAX_WORDS words within a clause, once each."""
    w = _words(text)
    starts = {s: i for i, (s, _) in enumerate(w.spans)}
    ends = {e: i for i, (_, e) in enumerate(w.spans)}
    found = typed_spans(text)
    typed = {(s, e): k for s, e, k in found}
    out: dict[tuple[int, int], Candidate] = {}
    for (s, e), kind in typed.items():
        first = starts.get(s, _word_at(w, s))
        last = ends.get(e, _word_at(w, e - 1))
        out[(s, e)] = Candidate(s, e, text[s:e], kind, first, last)
    for i in range(len(w.spans)):
        for j in range(i, min(i + MAX_WORDS, len(w.spans))):
            s, e = w.spans[i][0], w.spans[j][1]
            if (s, e) not in out:
                out[(s, e)] = Candidate(s, e, text[s:e], "", i, j)
            if w.broken[j]:
                break
    return Spans([c for c in out.values() if c.text.strip()], w, found)


def _word_at(w: _Words, offset: int) -> int:
    """The index of the word holding (or last before) a character offset."""
    idx = 0
    for i, (s, _) in enumerate(w.spans):
        if s <= offset:
            idx = i
    return idx


def wh_word(q: Question) -> str:
    """The question word it opens with (or holds first): who, when, where, which, what, why, how, or ""."""
    words = q.as_read.lower().split()
    for word in words[:1] + words:
        word = word.strip("?,.")
        if word in WH:
            return word
    return ""


def wanted(q: Question) -> set[str]:
    """The candidate types that answer the question: from its kind, and names for who and where."""
    if q.kind:
        return WANTED.get(q.kind, set())
    if HOW_MEASURE.search(q.as_read):
        return WANTED["quantity"]
    return {"name"} if wh_word(q) in ("who", "where") else set()


FEATURES = (
    "agrees", "wanted_other", "no_kind_typed", "t_number", "t_money", "t_percent", "t_date", "t_year", "t_name",
    "who_name", "where_name", "when_date", "what_name", "which_name", "what_untyped",
    "q_why", "q_how", "q_no_kind", "q_open",
    "new_share", "in_question", "all_stop", "starts_article", "starts_stop", "ends_stop", "stop_share",
    "anchor_dist", "no_anchor", "anchors_near", "left_in_q", "right_in_q", "prev_prep", "prev_copula",
    "len1", "len2", "len3", "len4", "len5p", "cap_share", "opens", "has_comma", "position", "part_typed",
    "dist1", "dist2", "dist34", "start_clause", "end_clause", "prev_stop", "next_stop", "next_prep", "cuts_cap",
    "window_left", "window_right", "has_digit", "what_len", "who_len", "how_len", "clause_share",
    *ALIGN,
)
WINDOW = 5  # content words each side in which the question's words are counted


def settings() -> dict:
    """The cut-offs the features are computed with, recorded beside the weights fitted on them (bench.fit_short)."""
    from qa.answer.spanlex import SIDES

    return {"max_words": MAX_WORDS, "window": WINDOW, "sides": list(SIDES), "features": len(FEATURES)}


def featurise(q: Question, spans: Spans, lex: Lexicon = EMPTY) -> list[list[float]]:
    """The FEATURES vector of each candidate for this question (`lex`: the word rarities the model was fitted with)."""
    w = spans.words
    qstems = set(tokenize(q.as_read, keep_stopwords=True)) - set(tokenize(" ".join(WH), keep_stopwords=True))
    qcontent = max(len(set(tokenize(q.as_read))), 1)
    anchors = [i for i, s in enumerate(w.stems) if s in qstems and w.lower[i] not in STOPWORDS]
    want, wh = wanted(q), wh_word(q)
    plain_how = wh == "how" and q.kind is None
    qfacts = [float(wh == "why" or q.why), float(plain_how), float(q.kind is None), float(q.open)]
    bounds = [(s, e) for s, e, _ in spans.typed]
    n = max(len(w.spans), 1)
    qv = question_view(q, lex)
    at = hits(w.stems, qv)
    return [
        _one(c, w, want, wh, qstems, anchors, qfacts, bounds, n) + _more(c, w, wh, anchors, qcontent)
        + align(c.first, c.last, w.stems, qv, at)
        for c in spans.cands
    ]


def lexical_keys(q: Question, spans: Spans, lex: Lexicon) -> list[list[str]]:
    """The lexicalised feature keys of each candidate (`qa.answer.spanlex.crosses`)."""
    phrase = question_view(q, lex).phrase
    return [crosses(c.first, c.last, c.type or "none", spans.words.raw, lex, phrase) for c in spans.cands]


def _one(c: Candidate, w: _Words, want: set[str], wh: str, qstems: set[str], anchors: list[int],
         qfacts: list[float], bounds: list[tuple[int, int]], n: int) -> list[float]:
    idx = range(c.first, c.last + 1)
    content = [i for i in idx if w.lower[i] not in STOPWORDS]
    new = [i for i in content if w.stems[i] not in qstems]
    size = len(idx)
    near = [abs(a - c.first) if a < c.first else abs(a - c.last) for a in anchors if a < c.first or a > c.last]
    dist = min(near) if near else 10
    prev = w.lower[c.first - 1] if c.first > 0 and not w.broken[c.first - 1] else ""
    nxt = w.lower[c.last + 1] if c.last + 1 < len(w.lower) and not w.broken[c.last] else ""
    t = c.type
    name = t == "name" or (not t and all(w.caps[i] for i in idx))
    part = any((s < c.start < e or s < c.end < e) for s, e in bounds)
    return [
        float(t in want), float(bool(want) and t not in want), float(not want and bool(t)),
        float(t == "number"), float(t == "money"), float(t == "percent"), float(t == "date"), float(t == "year"), float(t == "name"),
        float(wh == "who" and name), float(wh == "where" and name), float("date" in want and t in ("date", "year")),
        float(wh == "what" and name), float(wh == "which" and name), float(wh == "what" and not t),
        *qfacts,
        len(new) / max(len(content), 1), float(len(new) < len(content)), float(not content),
        float(w.lower[c.first] in ARTICLES), float(w.lower[c.first] in STOPWORDS and w.lower[c.first] not in ARTICLES),
        float(w.lower[c.last] in STOPWORDS), 1 - len(content) / size,
        math.log1p(dist), float(not near), sum(1 for d in near if d <= 3) / max(len(anchors), 1),
        float(bool(prev) and prev not in STOPWORDS and w.stems[c.first - 1] in qstems),
        float(bool(nxt) and nxt not in STOPWORDS and w.stems[c.last + 1] in qstems),
        float(prev in PREPOSITIONS), float(prev in COPULAS),
        float(size == 1), float(size == 2), float(size == 3), float(size == 4), float(size >= 5),
        sum(w.caps[i] for i in idx) / size, float(c.first == 0), float("," in c.text), c.first / n, float(part),
    ]


def _more(c: Candidate, w: _Words, wh: str, anchors: list[int], qcontent: int) -> list[float]:
    """Boundary, window and length-by-question-word features."""
    near = [a - c.last if a > c.last else c.first - a for a in anchors if a < c.first or a > c.last]
    dist = min(near) if near else 99
    starts = c.first == 0 or w.broken[c.first - 1]
    ends = w.broken[c.last]
    prev = "" if starts else w.lower[c.first - 1]
    nxt = "" if ends else w.lower[c.last + 1]
    cuts = (not starts and w.caps[c.first - 1] and w.caps[c.first]) or (not ends and w.caps[c.last + 1] and w.caps[c.last])
    content = [i for i, x in enumerate(w.lower) if x not in STOPWORDS]
    before = [i for i in content if i < c.first][-WINDOW:]
    after = [i for i in content if i > c.last][:WINDOW]
    seen = Counter(w.stems[a] for a in anchors)  # a question word the quote uses once tells more than one used thrice
    left = sum(1 / seen[w.stems[a]] for a in set(before) & set(anchors))
    right = sum(1 / seen[w.stems[a]] for a in set(after) & set(anchors))
    size = min(c.last - c.first + 1, 6) / 6
    lo, hi = c.first, c.last
    while lo > 0 and not w.breaks_clause[lo - 1]:
        lo -= 1
    while hi < len(w.lower) - 1 and not w.breaks_clause[hi]:
        hi += 1
    clause = sum(1 / seen[w.stems[a]] for a in anchors if lo <= a <= hi and not c.first <= a <= c.last)
    return [
        float(dist == 1), float(dist == 2), float(3 <= dist <= 4), float(starts), float(ends),
        float(prev in STOPWORDS and prev not in PREPOSITIONS | COPULAS), float(nxt in STOPWORDS), float(nxt in PREPOSITIONS),
        float(bool(cuts)), left / qcontent, right / qcontent, float(any(ch.isdigit() for ch in c.text)),
        size * (wh in ("what", "which")), size * (wh == "who"), size * (wh == "how"), clause / qcontent,
    ]
