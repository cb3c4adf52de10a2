"""Forgiving wording: misspelt question words are read as the index words they were meant for."""

from __future__ import annotations

import pytest

from qa.answer.spelling import Speller, english_words
from qa.lexical import tokenize

ARTICLE = "Twenty-two CCGs were rated outstanding in the latest ratings; the government named them."


class Lexical:
    """The two things the speller asks of the BM25 index: its vocabulary and each word's passage count."""

    def __init__(self, text: str) -> None:
        self.vocab = {t: i for i, t in enumerate(dict.fromkeys(tokenize(text)))}

    def df(self, token: str) -> int:
        return 1 if token in self.vocab else 0


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller(Lexical(ARTICLE))  # the real English word list


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("how many ccgs were ratd outstandng?", "how many CCGs were rated outstanding?"),
        ("what did the goverment say?", "what did the government say?"),
        ("HOW MANY CCGS WERE RATD OUTSTANDNG?", "how many CCGs were rated outstanding?"),  # shouted
    ],
)
def test_misspelt_words_become_the_index_words_they_were_meant_for(speller, typed, meant):
    assert tokenize(speller.correct(typed)) == tokenize(meant)


@pytest.mark.parametrize(
    "question",
    [
        "What is the salary of the chief executive?",  # a real word the articles lack: must stay unknown
        "Which carmaker will legalise the hat-trick?",  # a compound, a British spelling, a hyphenated word
        "Was Outstandng CCG rated?",  # capitalised: a name, not a typo
        "WHAT IS THE SALARY OF THE NHSE CHIEF?",  # shouted: real words and acronyms stay as typed
    ],
)
def test_real_words_and_names_are_left_alone(speller, question):
    assert speller.correct(question) == question


def test_a_misspelling_that_splits_into_two_words_is_read_as_the_index_word_one_edit_away():
    speller = Speller(Lexical("Sheffield CCG was rated good by a caretaker."), dictionary=english_words())
    assert speller.correct("how was shefield rated?") == "how was sheffield rated?"  # not "she" + "field"
    # two words run together with no index word one edit away stay as typed
    assert speller.correct("did a carmaker rate it?") == "did a carmaker rate it?"


def test_a_shouted_name_is_not_read_as_a_word_one_edit_away():
    speller = Speller(Lexical("David Crichton said the CCG was rated outstanding."), dictionary=english_words())
    assert speller.correct("WHAT DID SAJID JAVID SAY?") == "WHAT DID SAJID JAVID SAY?"  # not "SAID DAVID"
    assert speller.correct("WHAT DID DAVDI SAY?") == "WHAT DID DAVID SAY?"  # a swap keeping its length and first letter
    assert tokenize(speller.correct("WAS IT RATD OUTSTANDNG?")) == tokenize("was it rated outstanding?")


def test_an_acronyms_plural_typed_in_lower_case_is_read_as_the_acronym_the_index_holds():
    speller = Speller(Lexical("The NHS rated 22 CCGs and their GPs."), dictionary=frozenset())
    assert speller.correct("did the nhs rate ccgs or gps?") == "did the nhs rate ccg or gp?"
    # a plural the index holds as it is, or whose singular it lacks, is left alone
    assert Speller(Lexical("ccgs"), dictionary=frozenset()).correct("ccgs") == "ccgs"
    assert Speller(Lexical("NHS"), dictionary=frozenset()).correct("mps") == "mps"
    assert Speller(Lexical("Mr Smith"), dictionary=frozenset({"mrs"})).correct("mrs smith") == "mrs smith"  # a word


def test_an_acronyms_plural_in_a_shouted_question_is_read_as_the_acronym_the_index_holds():
    speller = Speller(Lexical("The NHS rated 22 CCGs and their GPs."), dictionary=frozenset({"mrs"}))
    assert speller.correct("HOW MANY CCGS DID THE NHS RATE?") == "HOW MANY CCG DID THE NHS RATE?"
    assert speller.correct("DID THE NHS RATE CCGS OR GPS?") == "DID THE NHS RATE CCG OR GP?"
    # in a question with lower case, capitals ending in S are an acronym of their own: "GPS", "CPS"
    assert speller.correct("How accurate is GPS tracking?") == "How accurate is GPS tracking?"
    # a plural the index holds, an English word, or an acronym the index lacks, is left alone
    assert Speller(Lexical("ccgs"), dictionary=frozenset()).correct("CCGS") == "CCGS"
    assert Speller(Lexical("Mr Smith"), dictionary=frozenset({"mrs"})).correct("MRS SMITH") == "MRS SMITH"
    assert speller.correct("MPS AND NHS") == "MPS AND NHS"
