"""Forgiving wording: a misspelt question word ("outstandng") is read as the index word it was meant for.

Only lower-case words the index doesn't hold are corrected, and only when an English word list (pyspellchecker's,
160k words with their inflections) doesn't know them either: "salary" is a real word the articles lack, not a typo,
and must stay unknown so the engine can say the articles don't say. In a question typed all in capitals a name looks
like any word, so there a word is corrected only by one edit keeping its first letter (and a short word's length):
"HOW MNAY" is read as "HOW MANY", "SAJID JAVID" stays.
An acronym's plural typed in lower case ("ccgs"), or in a question typed all in capitals ("HOW MANY CCGS"), is read as
the acronym when the index holds only that ("CCGs" and "CCG" are both the token "ccg") and the word list doesn't know it ("mrs", "MRS" stay).
"""

from __future__ import annotations

import re
from functools import cache

from qa.lexical import STOPWORDS, tokenize

_WORD = re.compile(r"(?<![\w'’-])[a-z]{4,}(?![\w'’-])")  # plain lower-case words; "hat-trick" is left alone
_SHOUTED = re.compile(r"(?<![\w'’-])[A-Z]{4,}(?![\w'’-])")  # the same words in a question typed all in capitals
_BRITISH = re.compile(r"is(e|es|ed|ing|ation|ations)$")
# "ccgs", "CCGS": an acronym's plural typed in lower case, or in capitals, which the index holds as the acronym
# ("CCGs" -> "ccg"); tokenize can't tell either from a word
_ACRONYM_PLURAL = re.compile(r"(?<![\w'’-])([b-df-hj-np-tv-z]{2,})s(?![\w'’-])", re.I)


class Speller:
    """Corrects a question's misspelt words to the closest English word whose stem the index holds
    (Damerau-Levenshtein: one edit for short words, more for long ones; ties go to the commoner stem)."""

    def __init__(self, lexical, max_edits: int = 2, short: int = 5, dictionary: frozenset[str] | None = None) -> None:
        self.lexical = lexical
        self._dictionary = dictionary  # English words (loaded on first need when not given)
        self.max_edits = max_edits  # edits allowed for a word longer than `short` letters (one for shorter ones)
        self.short = short
        self._choices: tuple[list[str], list[str]] | None = None

    def correct(self, text: str) -> str:
        """The text with each misspelt word replaced by the word it was meant for, and each acronym's plural typed in
        lower case, or in a question typed all in capitals, by the acronym when the index holds only that."""
        shouted = not any(c.islower() for c in text)  # else capitals are an acronym of their own: "GPS", "CPS"
        text = _ACRONYM_PLURAL.sub(lambda m: self._singular(m.group(0)) if m.group(0).islower() or shouted else m.group(0), text)
        if shouted:  # "HOW MNAY": read in lower case, put back in capitals; strictly, as a name looks like any word there
            return _SHOUTED.sub(lambda m: self._fix(m.group(0).lower(), strict=True).upper(), text)
        return _WORD.sub(lambda m: self._fix(m.group(0)), text)

    def _singular(self, typed: str) -> str:
        """The acronym, as typed less its "s", when the index holds it but not the plural, which is no English word."""
        plural, vocab = typed.lower(), self.lexical.vocab
        return typed[:-1] if plural not in vocab and plural[:-1] in vocab and not self.is_word(plural) else typed

    def _fix(self, word: str, strict: bool = False) -> str:
        """The word it was meant for (itself when known or nothing is near); `strict` (a shouted word, maybe a name):
        one edit keeping the first letter, and for a short word its length too."""
        if word in STOPWORDS or all(t in self.lexical.vocab for t in tokenize(word)) or self.listed(word):
            return word
        from rapidfuzz import process
        from rapidfuzz.distance import DamerauLevenshtein

        words, stems = self._candidates()
        # two words run together ("carmaker") are meant, unless an index word is one edit away ("shefield": "she field")
        cutoff = 1 if strict or len(word) <= self.short or self.compound(word) else self.max_edits
        found = process.extract(word, words, scorer=DamerauLevenshtein.distance, score_cutoff=cutoff, limit=None if strict else 8)
        if strict:  # a short word only by a swap or a changed letter: "SAJID" is no typo of "SAID", "MNAY" is of "MANY"
            found = [f for f in found if f[0][0] == word[0] and (len(word) > self.short or len(f[0]) == len(word))]
        if not found:
            return word
        best = min(found, key=lambda f: (f[1], f[0][0] != word[0], -self.lexical.df(stems[f[2]]), len(f[0])))
        return best[0]

    def _candidates(self) -> tuple[list[str], list[str]]:
        """The English words whose stem the index holds ("rated", "rating" for "rate"), and those stems."""
        if self._choices is None:
            words = [w for w in self.dictionary if w.isalpha()]
            pairs = [(w, t) for w, t in zip(words, tokenize(" ".join(words), keep_stopwords=True)) if t in self.lexical.vocab]
            self._choices = ([w for w, _ in pairs], [t for _, t in pairs])
        return self._choices

    def is_word(self, word: str) -> bool:
        """An English word: in the list, in its -ize spelling ("legalise"), or two listed words run together ("carmaker")."""
        return self.listed(word) or self.compound(word)

    def listed(self, word: str) -> bool:
        """In the English word list, or in its -ize spelling ("legalise")."""
        return word in self.dictionary or _BRITISH.sub(r"iz\1", word) in self.dictionary

    def compound(self, word: str) -> bool:
        """Two listed words run together ("carmaker")."""
        words = self.dictionary
        return any(word[:i] in words and word[i:] in words for i in range(2, len(word) - 2))

    @property
    def dictionary(self) -> frozenset[str]:
        """The English word list (given, or pyspellchecker's)."""
        if self._dictionary is None:
            self._dictionary = english_words()
        return self._dictionary


@cache
def english_words() -> frozenset[str]:
    """pyspellchecker's English word list, read once per process (every engine shares it)."""
    from spellchecker import SpellChecker

    return frozenset(SpellChecker().word_frequency.dictionary)
