"""What the scorer knows of each article, computed once per article and kept for the most recent ones."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache

from qa.answer.acronyms import find_acronyms
from qa.answer.quotes import attributions
from qa.dates import day_of
from qa.lexical import tokenize
from qa.segment import Span

# a sentence opening with a pronoun continues the one before it ("These came into force on ...")
CONTINUES = re.compile(r"^\W*(these|this|it|they|he|she|its|their|such|the same|that)\b", re.I)
# a year, or a span of years ("2019/20", "2017-18", "2015-2016")
YEARS = re.compile(r"\b((?:19|20)\d\d)(?:[/-]((?:19|20)?\d\d))?\b")
# a dated headline ("CNN news quiz evidence, 2022/02/24") dates an article that has no date of its own
TITLE_DATE = re.compile(r"\b((?:19|20)\d\d)[/-](\d\d)[/-](\d\d)\b")


def years_in(text: str) -> frozenset[str]:
    """Every year the text names, a span counting each of its years ("2019/20" -> 2019, 2020)."""
    return years_of(year_spans(text))


def years_of(periods: frozenset[tuple[int, int]]) -> frozenset[str]:
    """Every year of the periods: (2019, 2020) -> 2019, 2020."""
    return frozenset(str(y) for first, last in periods for y in range(first, last + 1))


def year_spans(text: str) -> frozenset[tuple[int, int]]:
    """The years a text names as (first, last): "2016" -> (2016, 2016), "2019/20" -> (2019, 2020); a date names
    its year ("2010/12/05" -> (2010, 2010), not 2010 to 2012)."""
    out: set[tuple[int, int]] = set()
    for m in YEARS.finditer(TITLE_DATE.sub(lambda d: d.group(1), text)):
        first, last = int(m.group(1)), m.group(2)
        end = int(last) if last and len(last) == 4 else (first // 100 * 100 + int(last) if last else first)
        out.add((first, end if first <= end <= first + 5 else first))
    return frozenset(out)


def within(asked: frozenset[tuple[int, int]], held: frozenset[tuple[int, int]]) -> bool:
    """Whether a text naming the periods `held` is of a time asked about: one of its periods lies inside an asked
    one, or an asked year inside one of its periods ("2016/17" is not "2017-18", though both count 2017)."""
    return any(a[0] <= h[0] and h[1] <= a[1] or (a[0] == a[1] and h[0] <= a[0] <= h[1]) for a in asked for h in held)


def article_date(date: str, title: str) -> str:
    """The article's date, else one its headline gives ("2022/02/24" -> "2022-02-24"), else ""."""
    if date:
        return date
    m = TITLE_DATE.search(title)
    return "-".join(m.groups()) if m else ""


@dataclass(frozen=True)
class ArticleFeatures:
    """One article's metadata, text, sentences, vocabulary, headline words, acronyms and quote speakers."""

    doc_id: str
    title: str
    date: str
    source: str
    text: str
    spans: tuple[Span, ...]  # its sentences' character spans
    vocab: frozenset[str]  # every index token of its headline and text
    headline: frozenset[str]  # its headline's tokens, acronyms expanded: they set the scene for every sentence
    acronyms: tuple[tuple[frozenset[str], frozenset[str]], ...]  # (acronym tokens, long-form tokens)
    speakers: dict[int, frozenset[str]]  # sentence index -> tokens of the words introducing its quote
    speaker_spans: dict[int, tuple[int, int]] = field(default_factory=dict)  # ... and where those words are
    periods: frozenset[tuple[int, int]] = frozenset()  # the years its date and headline name: "2019/20" -> (2019, 2020)

    def sentence(self, i: int) -> str:
        """The text of sentence i."""
        return self.text[self.spans[i].start:self.spans[i].end]

    def expand(self, tokens: set[str]) -> set[str]:
        """The tokens plus the other form of each acronym the article defines (CCG <-> clinical commissioning group)."""
        for abbr, long in self.acronyms:
            if abbr <= tokens:
                tokens |= long
            elif long <= tokens:
                tokens |= abbr
        return tokens

    def speaker_sentence(self, i: int) -> int | None:
        """The sentence naming who says sentence i's quote, when another sentence does ("He added:" -> "X said:")."""
        span = self.speaker_spans.get(i)
        if span is None:
            return None
        j = bisect.bisect_right([s.start for s in self.spans], span[0]) - 1
        return j if j >= 0 and j != i else None

    @cached_property
    def day(self) -> str:
        """The year, year-month or date its date starts with ("2022-07-08"), or "" when none can be read."""
        return day_of(self.date)

    def sentence_periods(self, i: int) -> frozenset[tuple[int, int]]:
        """The years and spans of years sentence i names, as periods."""
        return self._sentence_periods[i]

    @cached_property
    def _sentence_periods(self) -> tuple[frozenset[tuple[int, int]], ...]:
        """Each sentence's periods, read once per article (every question scoring it asks again)."""
        return tuple(year_spans(self.sentence(i)) for i in range(len(self.spans)))

    def carries(self, i: int) -> bool:
        """Whether sentence i opens with a word that continues the one before ("These", "It")."""
        return i > 0 and bool(CONTINUES.search(self.sentence(i)))


class Features:
    """Article features on demand from the index's store, the most recent `size` articles kept."""

    def __init__(self, store, size: int = 256) -> None:
        self.store = store
        self.get = lru_cache(maxsize=size)(self._compute)

    def _compute(self, doc_id: str) -> ArticleFeatures:
        art = self.store.article(doc_id)
        spans = tuple(self.store.sentences(doc_id))
        acronyms = tuple(
            (frozenset(a), frozenset(b))
            for abbr, long in find_acronyms(art.text).items()
            if (a := tokenize(abbr)) and (b := tokenize(long))
        )
        found = attributions(art.text, [(s.start, s.end) for s in spans])
        date = article_date(art.date, art.title)
        features = ArticleFeatures(
            doc_id=doc_id, title=art.title, date=date, source=art.source, text=art.text, spans=spans,
            vocab=frozenset(tokenize(art.title)) | frozenset(tokenize(art.text)), headline=frozenset(),
            acronyms=acronyms, speakers={i: frozenset(tokenize(art.text[a:b])) for i, (a, b) in found.items()},
            speaker_spans=found, periods=year_spans(date[:4]) | year_spans(art.title),
        )
        return replace(features, headline=frozenset(features.expand(set(tokenize(art.title)))))

