"""Pure rules behind sentence choice and abstention: acronyms, answer types, what the articles never mention."""

from __future__ import annotations

import pytest

from qa.abstain import type_noun, unknown_focus, unknown_names
from qa.acronyms import find_acronyms
from qa.answertype import has_type, question_type
from qa.lexical import tokenize


def test_acronyms_defined_in_an_article_are_found_with_their_long_form():
    text = (
        "The North Derbyshire Clinical Commissioning Group (CCG) was rated inadequate. "
        "Plans follow the Sustainability and Transformation Plan (STP) footprint; the Department of Health (DoH) "
        "agreed. Groups (CCGs) merged. Nothing here (OK) or (A) is an acronym of the words before it."
    )
    found = find_acronyms(text)
    assert found["ccg"] == "clinical commissioning group"
    assert found["stp"] == "sustainability and transformation plan"
    assert found["doh"] == "department of health"
    assert "ok" not in found and "a" not in found


@pytest.mark.parametrize(
    "question, kind",
    [
        ("How many CCGs were rated inadequate?", "count"),
        ("How did the number of inadequate CCGs change?", "count"),
        ("What percentage of CCGs were rated good?", "percent"),
        ("What share of CCGs were outstanding?", "percent"),
        ("How much must North Derbyshire save?", "money"),
        ("How much did it improve?", "quantity"),
        ("When did the directions come into force?", "date"),
        ("In what year was the framework introduced?", "date"),
        ("Who is its chief officer?", "person"),
        ("Why was North Derbyshire rated inadequate?", None),
    ],
)
def test_question_types(question, kind):
    assert question_type(question) == kind


def test_sentences_hold_an_answer_of_the_kind_asked_for():
    share = "The proportion rated inadequate is down 4% since 2017/18."
    count = "It is one of the 18 clinical commissioning groups rated inadequate."
    money = "It must make savings of £28 million."
    date = "These came into force on Monday 14 August 2017."
    assert has_type(share, "percent") and not has_type(share, "count")  # 4% is a share, 2017/18 a year
    assert has_type(count, "count") and not has_type(count, "percent")
    assert has_type(money, "money") and not has_type(money, "count")
    assert has_type(date, "date") and not has_type(money, "date")
    said = "Jan Thomas, chief officer of the CCG, said it was disappointing."
    assert has_type(said, "person", "Who is the chief officer?")
    assert not has_type(said, "person", "What did Jan Thomas say?")  # the person asked about is no answer


def test_names_and_focus_words_no_article_uses_mean_nothing_to_quote():
    vocab = set(tokenize("North Derbyshire CCG rated inadequate chief executive NHS England population budget"))
    assert unknown_names("What rating did Manchester CCG get?", vocab) == ["Manchester"]
    assert unknown_names("Why was North Derbyshire rated inadequate?", vocab) == []
    assert unknown_focus("What is the salary of the chief executive of NHS England?", vocab) == ["salary"]
    assert unknown_focus("What is the population of Derbyshire?", vocab) == []  # known word: other checks decide
    # words that only say what kind of answer is wanted needn't appear in any article
    assert unknown_focus("What percentage of CCGs were rated inadequate?", vocab) == []
    assert type_noun("What role does Simon Stevens hold?") == "role"
    assert type_noun("Why was it rated inadequate?") is None
