"""The short answer: the span of the first quote that answers the question ("26", "Tracy Dowling"), or none.

The reader (`qa.answer.reader`, the embedding model fine-tuned by `python -m bench.fit_reader`) points at the
span when the index names its export; its span is shown when its probability reaches `Tuning.reader_below`.
Without it, each candidate span (`qa.answer.spans`) is scored by a linear model fitted by
`python -m bench.fit_short` (weights in `short_weights.json`, read into `Tuning`), and the chosen span
(`decode`) is shown when the model's confidence reaches `Tuning.short_below`. Either way a span is shown only
once it is checked to be the article's own text inside the first quote.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.answer.citation import Citation
from qa.answer.question import Question
from qa.answer.reader import Reader
from qa.answer.spanlex import Lexicon
from qa.answer.spans import FEATURES, Candidate, candidates, featurise, lexical_keys, near_question
from qa.answer.tuning import Tuning

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class ShortAnswer:
    """A verified span: `text == article.text[start:end]`, inside the first citation's quote."""

    text: str
    doc_id: str
    start: int
    end: int
    score: float

    def to_json(self) -> dict:
        """The `short_answer` object of `qa ask --json`."""
        return {"text": self.text, "doc_id": self.doc_id, "start": self.start, "end": self.end}


def weight_vector(tuning: Tuning) -> list[float]:
    """The fitted weights in FEATURES order (a feature the file doesn't name weighs 0)."""
    named = dict(tuning.short_weights)
    return [named.get(name, 0.0) for name in FEATURES]


@dataclass(frozen=True)
class Pick:
    """The span of a quote chosen to answer (`quote[start:end] == text`) and how sure its scorer is."""

    start: int
    end: int
    text: str
    confidence: float


@dataclass(frozen=True)
class _Model:
    """The span scorer's tables, built once per Tuning's tables."""

    dense: np.ndarray  # the dense features' weights, in FEATURES order
    lexical: dict[str, float]
    lex: Lexicon


_MODELS: dict[tuple, tuple[Tuning, _Model]] = {}


def model(tuning: Tuning) -> _Model:
    """The weights and word tables of the tuning, as dicts (cached: tuning records are immutable)."""
    key = (id(tuning.short_weights), id(tuning.short_lexical), id(tuning.short_idf), id(tuning.short_vocab), tuning.short_rare_idf)
    if key not in _MODELS:  # the entry holds the tuning, so no id here is reused while it is cached
        lex = Lexicon(dict(tuning.short_idf), tuning.short_rare_idf, frozenset(tuning.short_vocab))
        import numpy as np

        _MODELS[key] = (tuning, _Model(np.asarray(weight_vector(tuning)), dict(tuning.short_lexical), lex))
    return _MODELS[key][1]


def logits(q: Question, text: str, tuning: Tuning) -> tuple[list[Candidate], list[float]]:
    """Every candidate span of the text and the model's score (logit) for it."""
    spans = candidates(text)
    if not spans.cands:
        return [], []
    import numpy as np

    m = model(tuning)
    keys = lexical_keys(q, spans, m.lex) if m.lexical else [[] for _ in spans.cands]
    dense = np.asarray(featurise(q, spans, m.lex), dtype=np.float64) @ m.dense  # one product for every candidate
    return spans.cands, [tuning.short_bias + zd + sum(m.lexical.get(k, 0.0) for k in ks) for zd, ks in zip(dense.tolist(), keys)]


def decode(texts: list[str], z: list[float], objective: str, top: int) -> tuple[float, int]:
    """The chosen candidate's index and how sure the model is of it (`objective` as the weights were fitted).

    binary: each span's own probability; the most probable wins. softmax: the spans share one probability; among
    the `top` likeliest, the one with the highest expected F1 against the others wins (so a span overlapping
    several likely ones beats a lone one a little likelier), and its expected F1 is the confidence."""
    if objective == "binary":
        i = max(range(len(z)), key=lambda j: (z[j], -j))
        return 1 / (1 + math.exp(-max(min(z[i], 30), -30))), i
    if objective != "softmax":
        raise ValueError(f"unknown span objective {objective!r} (binary or softmax)")
    from qa.evaluate import short_scores  # SQuAD's F1, as the answers are scored

    peak = max(z)
    weights = [math.exp(v - peak) for v in z]
    total = sum(weights)
    best = sorted(range(len(z)), key=lambda j: (-z[j], j))[:top]
    expected = [(sum(weights[k] / total * short_scores(texts[j], (texts[k],))[1] for k in best), -n, j)
                for n, j in enumerate(best)]
    f1, _, i = max(expected)
    return f1, i


def best_span(q: Question, quote: str, tuning: Tuning, reader: Reader | None = None) -> Pick | None:
    """The quote's chosen answer span and its scorer's confidence, whatever the threshold (None: no span can answer)."""
    if not q.one_span:
        return None
    if reader is not None:
        return read(q, quote, tuning, reader)
    cands, z = logits(q, quote, tuning)
    if not cands:
        return None
    confidence, i = decode([c.text for c in cands], z, tuning.short_objective, tuning.short_mbr_top)
    return Pick(cands[i].start, cands[i].end, cands[i].text, confidence)


def read(q: Question, quote: str, tuning: Tuning, reader: Reader) -> Pick | None:
    """The reader's span of the quote: of its likeliest spans (`reader_top`, trimmed to whole words, each once) that it
    would show (`reader_below`), the one whose log probability plus `reader_near` times the share of the question's words
    beside it (`spans.near_question`, by the span scorer's word rarity) is highest; its likeliest when none would show."""
    found: dict[tuple[int, int], float] = {}
    for f in reader.spans(q.query, quote, max(tuning.reader_top, 1) if tuning.reader_near else 1):
        start, end = trim(quote, f.start, f.end)
        if end > start:
            found.setdefault((start, end), f.p)  # likeliest first: a span two readings trim alike keeps the likelier
    if not found:
        return None
    places = [s for s, p in found.items() if p >= tuning.reader_below] or [next(iter(found))]
    if len(places) > 1:
        beside = near_question(q, quote, places, model(tuning).lex, tuning.reader_window)
        weighed = [math.log(max(found[s], 1e-12)) + tuning.reader_near * b for s, b in zip(places, beside)]
        places = [places[max(range(len(places)), key=lambda i: (weighed[i], -i))]]
    (start, end), = places
    return Pick(start, end, quote[start:end], found[(start, end)])


EDGE = ",;:!?\"'()[]{}\u201c\u201d\u2018\u2019\u2013\u2014\u2026"  # not part of an answer at either end of a span
ABBREVIATION = re.compile(r"(?:\b[A-Za-z]\.)+$")  # "U.S.", "a.m.": their full stop stays


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """The span widened to whole words, without the spaces and punctuation at its ends (a full stop stays after an
    abbreviation, "U.S.")."""
    while 0 < start < len(text) and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while 0 < end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
        end += 1
    while start < end and (text[start] in EDGE or text[start].isspace()):
        start += 1
    while end > start and (text[end - 1] in EDGE or text[end - 1].isspace()
                           or (text[end - 1] == "." and not ABBREVIATION.search(text[start:end]))):
        end -= 1
    return start, end


def short_answer(q: Question, citation: Citation, article_text: str, tuning: Tuning, reader: Reader | None = None) -> ShortAnswer | None:
    """The best span of the citation's quote when its scorer is sure enough and the span checks out; else None."""
    best = best_span(q, citation.quote, tuning, reader)
    if best is None or not best.confidence >= (tuning.reader_below if reader is not None else tuning.short_below):
        return None  # (a NaN confidence is no confidence)
    short = ShortAnswer(best.text, citation.doc_id, citation.start + best.start, citation.start + best.end, best.confidence)
    return short if verify_short(short, citation, article_text) else None


def verify_short(short: ShortAnswer, citation: Citation, article_text: str) -> bool:
    """The exact-text check every short answer passes before it is shown: the article's text, inside the quote."""
    return (
        short.doc_id == citation.doc_id
        and citation.start <= short.start < short.end <= citation.end
        and article_text[short.start:short.end] == short.text
    )
