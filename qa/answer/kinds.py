"""Expected answer types: a "how many" question wants a count, "when" a date, "how much" an amount.

"Who" has no type here. A bonus for two capitalised words cost 21 of 381 SQuAD who-questions their right
passage (a place or a team looks the same), and one for news-style names ("Jan Thomas, chief officer",
"said Simon Stevens") cost 23: Wikipedia names people everywhere.
"""

from __future__ import annotations

import re

MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
NUMBER_TOKEN = re.compile(r"([£$€]\s?)?\d[\d,]*(?:\.\d+)?(\s?%|\s+per ?cent)?([/-]\d+)?")
NUMBER_WORDS = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|dozens?|hundreds?|thousands?)\b", re.I
)
PERCENT_WORDS = re.compile(r"\b(half|quarter|third|fifth|tenth|majority|minority)s?\b", re.I)
MONEY_WORDS = re.compile(r"[£$€]|\b(pounds?|dollars?|euros?)\b", re.I)
DATE = re.compile(rf"\b({MONTHS}|{DAYS})\b|\b(1[5-9]\d\d|20\d\d)\b|\b\d{{4}}[/-]\d\d\b")

# "what is the population of ...", "what was Bristol CCG's annual budget": a measure named, a number wanted
_MEASURED = r"^\s*what (?:is|was|are|were) (?:the|its|their|[\w’'. -]+?['’]s?) (?:(?:total|annual|yearly|current|estimated|average) )?"
_ENDS = r"(?=\s+(?:of|for|in|at|on|to)\b|\s*\?|\s*$)"  # the measure itself asked for, not "the budget decision"
MONEY_NOUNS = "budget|cost|price|salary|pay|income|revenue|deficit|debt|spending|funding|allocation"
MEASURE_NOUNS = "population|size|area|length|height|weight|distance|capacity|turnout"

MEASURED = (
    ("money", re.compile(rf"{_MEASURED}({MONEY_NOUNS})s?{_ENDS}", re.I)),
    ("quantity", re.compile(rf"{_MEASURED}({MEASURE_NOUNS})s?{_ENDS}", re.I)),
)

QUESTION_TYPES = (
    *MEASURED,
    ("percent", re.compile(r"\b(what|which|the) (percentage|proportion|share|fraction)\b|\bhow many per ?cent\b|^\s*what per ?cent", re.I)),
    ("money", re.compile(r"\bhow much (money|cash|funding)\b|\bhow much\b.*\b(cost|save|saving|savings|spend|spent|budget|deficit|pay|paid|worth|owe)", re.I)),
    ("count", re.compile(r"\bhow many\b|\b(what|the) (number|total)\b", re.I)),
    ("quantity", re.compile(r"\bhow much\b", re.I)),
    ("date", re.compile(r"^\s*when\b|\b(what|which) (date|day|month|year)\b|\bin what year\b", re.I)),
)


def question_type(question: str) -> str | None:
    """The kind of answer the question asks for, or None when it doesn't say."""
    for name, pattern in QUESTION_TYPES:
        if pattern.search(question):
            return name
    return None


def measure_noun(question: str) -> str | None:
    """The measure a question names and asks the value of ("population" in "what is the population of ...")."""
    for _, pattern in MEASURED:
        m = pattern.search(question)
        if m:
            return m.group(1).lower()
    return None


# a number right after an acronym or a month is part of a name or a date ("NHS 111", "July 12"), not a count;
# one with a thousands separator is always an amount ("By July 2,000 people")
NAMED_NUMBER = re.compile(rf"\b(?:[A-Z]{{2,}}|({MONTHS}))\s$")


def _named(sentence: str, m: re.Match) -> bool:
    """Whether the number matched names a thing or a day rather than counting ("NHS 111", "July 12")."""
    digits = m.group(0).rstrip(",")
    before = NAMED_NUMBER.search(sentence[max(0, m.start() - 12):m.start()])
    if before is None or not digits.isdigit() or len(digits) > 3:
        return False
    return not before.group(1) or int(digits) <= 31  # a month's day


def _numbers(sentence: str) -> list[str]:
    """Each number in the sentence as 'percent', 'money', 'year', 'count' or 'name' (part of a name or a date)."""
    kinds = []
    for m in NUMBER_TOKEN.finditer(sentence):
        whole, currency, percent, span = m.group(0), m.group(1), m.group(2), m.group(3)
        digits = whole.strip("£$€ ").rstrip(",")  # "In 2016, 26 CCGs": the comma ends the year
        if currency:
            kinds.append("money")
        elif percent:
            kinds.append("percent")
        elif span or re.fullmatch(r"(1[5-9]|20)\d\d", digits):
            kinds.append("year")
        elif _named(sentence, m):
            kinds.append("name")
        else:
            kinds.append("count")
    return kinds


def has_type(sentence: str, kind: str | None) -> bool:
    """Whether the sentence holds an answer of this kind."""
    if kind is None:
        return False
    if kind == "date":
        return bool(DATE.search(sentence))
    numbers = _numbers(sentence)
    if kind == "percent":
        return "percent" in numbers or bool(PERCENT_WORDS.search(sentence))
    if kind == "money":
        return "money" in numbers or bool(MONEY_WORDS.search(sentence))
    if kind == "count":
        return "count" in numbers or bool(NUMBER_WORDS.search(sentence))
    return any(n not in ("year", "name") for n in numbers) or bool(NUMBER_WORDS.search(sentence))  # quantity: a year or a name is none
