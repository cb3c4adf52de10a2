"""Pure rules behind sentence choice and abstention: acronyms, answer types, what the articles never mention."""

from __future__ import annotations

import pytest

from qa.answer.abstention import about_nothing_known, unknown_focus
from qa.answer.acronyms import find_acronyms
from qa.answer.kinds import has_type, measure_noun, question_type
from qa.answer.question import understand
from qa.answer.quotes import attributions
from qa.answer.scoring import weigh_terms
from qa.answer.tuning import Tuning
from qa.lexical import Lexical, tokenize
from qa.segment import sentence_spans


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
        ("Who is its chief officer?", None),
        ("Why was North Derbyshire rated inadequate?", None),
        ("What is the population of Peterborough?", "quantity"),
        ("What was Bristol CCG's annual budget?", "money"),
        ("What is the budget decision about?", None),  # the budget is the topic, not the value asked for
    ],
)
def test_question_types(question, kind):
    assert question_type(question) == kind


def test_the_measure_a_question_asks_the_value_of():
    assert measure_noun("What is the population of Peterborough?") == "population"
    assert measure_noun("What was North Derbyshire CCG's deficit?") == "deficit"
    assert measure_noun("How many CCGs were rated inadequate?") is None


def test_sentences_hold_an_answer_of_the_kind_asked_for():
    share = "The proportion rated inadequate is down 4% since 2017/18."
    count = "It is one of the 18 clinical commissioning groups rated inadequate."
    money = "It must make savings of £28 million."
    date = "These came into force on Monday 14 August 2017."
    assert has_type(share, "percent") and not has_type(share, "count")  # 4% is a share, 2017/18 a year
    assert has_type(count, "count") and not has_type(count, "percent")
    assert has_type(money, "money") and not has_type(money, "count")
    assert has_type(date, "date") and not has_type(money, "date")
    assert has_type(count, "quantity") and not has_type("It was set up in 2013.", "quantity")  # a year is no amount


def test_a_number_after_an_acronym_or_a_month_names_a_thing_or_a_day_and_a_year_before_a_comma_is_a_year():
    from qa.answer.kinds import _numbers

    assert not has_type("It praised our integrated NHS 111/GP out of hours service.", "count")
    assert not has_type("The report was published on July 12.", "count")
    assert _numbers("In 2016, 26 CCGs were rated inadequate.") == ["year", "count"]  # the comma ends the year
    # counts after a capitalised word or a month stay counts
    for count in ("By July 2,000 people had signed up.", "In Wales 30 hospitals closed.", "NHS England 2,000 staff left.",
                  "The figures show: Some 26 CCGs failed.", "Across London 40 GP practices shut.", "July 45 people came."):
        assert has_type(count, "count"), count


def test_names_and_focus_words_no_article_uses_mean_nothing_to_quote():
    vocab = set(tokenize("North Derbyshire CCG rated inadequate chief executive NHS England population budget"))

    def names(question):
        return about_nothing_known(understand(question), vocab, 0.5)

    def focus(question):
        return [w.text for w in unknown_focus(understand(question), vocab)]

    assert names("What rating did Manchester CCG get?")  # its one name (acronyms aside) is unknown
    assert names("How many CCGs were rated inadequate in 2022?")  # a year no article mentions
    assert not names("Why was North Derbyshire rated inadequate?")
    assert not names("Did Manchester and North Derbyshire both fail?")  # one name in three unknown: the model decides
    assert focus("What is the salary of the chief executive of NHS England?") == ["salary"]
    assert focus("What is the population of Derbyshire?") == []  # known word: other checks decide
    # words that only say what kind of answer is wanted needn't appear in any article
    assert focus("What percentage of CCGs were rated inadequate?") == []
    assert understand("What role does Simon Stevens hold?").type_noun.text == "role"
    assert understand("Why was it rated inadequate?").type_noun is None
    # a verb after the question word is not a thing asked about, known or not
    assert focus("What happened to the CCGs rated inadequate?") == []
    assert focus("What is driving the CCG's financial challenges?") == []
    assert focus("What prompted the legal directions?") == focus("What makes a CCG inadequate?") == []
    assert focus("What funding was promised?") == ["funding"] and focus("What speed was it?") == ["speed"]  # nouns still
    assert focus("What didn't the CCG do?") == [] and focus("What percent of CCGs were rated good?") == []
    assert focus("What has happened to the CCGs rated inadequate?") == [] and focus("What has driven it?") == []
    # nouns that look like verbs stay: a possessive, a base form, an -ing noun
    assert focus("Which company's shares fell?") == ["company"] and focus("What is the hospital's budget?") == ["hospital"]
    assert focus("What cause did he back?") == ["cause"] and focus("What is funding for GPs?") == ["funding"]


def _speaker_of(text: str) -> dict[str, str]:
    spans = sentence_spans(text)
    return {text[spans[i].start:spans[i].end][:12]: text[a:b].strip() for i, (a, b) in attributions(text, spans).items()}


def test_a_quote_running_over_paragraphs_keeps_its_speaker():
    text = (
        "The CCG was rated inadequate.\n"
        "Chesterfield's MP, Toby Perkins, said: “It was deeply concerning to hear it.\n"
        "“We are used to praise here, so it is worrying. It will cost.\n"
        "“It is a cause for concern.”\n"
        "“A new quote from nobody named.\n"
        "Simon Evans, of NHS England, said:\n"
        "“These ratings are there to help. They show where to improve.\n"
        "“It ends here.”\n"
        "The board meets in May."
    )
    got = _speaker_of(text)
    perkins = "Chesterfield's MP, Toby Perkins, said:"
    assert got["“We are used"] == perkins and got["It will cost"] == perkins and got["“It is a cau"] == perkins
    assert got["“These ratin"] == "Simon Evans, of NHS England, said:" and got["They show wh"] == got["“It ends her"] == got["“These ratin"]
    # the sentence that names the speaker, text after a closed quote, and unattributed quotes carry nothing
    assert not {"The CCG was ", "Chesterfield", "“A new quote", "The board me"} & set(got)


def test_a_speaker_named_mid_paragraph_covers_the_rest_of_that_paragraph():
    text = 'Costs rose. The chief officer said: "We will act. Savings follow.\n"Patients come first."'
    got = _speaker_of(text)
    assert got["Savings foll"] == "The chief officer said:" and got['"Patients co'] == "The chief officer said:"
    assert "Costs rose." not in got


def test_a_pronoun_attribution_resolves_to_the_last_speaker_named_paragraphs_before():
    text = (
        "Both CCGs were rated outstanding.\n"
        "Dr David Crichton, Doncaster CCG clinical chair, said: ‘Achieving ‘outstanding’ is a fantastic achievement.\n"
        "‘Our staff work tirelessly for our patients.\n"
        "He added: ‘Ratings aren’t everything and we should not be complacent.’\n"
        "Emma Latimer said: “We are delighted. It reflects our work.”\n"
        "She added: “Thanks to everyone.”\n"
        "He said nothing more."
    )
    got = _speaker_of(text)
    crichton = "Dr David Crichton, Doncaster CCG clinical chair, said:"
    # single quote marks open quotations too, and the continuing paragraph keeps its speaker
    assert got["‘Our staff w"] == crichton
    # "He added:" names nobody: the sentence is Crichton's
    assert got["He added: ‘R"] == crichton
    # the next pronoun resolves to the speaker named last
    assert got["She added: “"] == "Emma Latimer said:"
    # a sentence that names its speaker, or a pronoun with no quote, is no attributed quote
    assert not {"Dr David Cri", "Emma Latimer", "He said noth", "Both CCGs we"} & set(got)


def test_a_pronoun_with_no_speaker_named_before_stays_itself():
    text = "The board met.\nHe added: “We will act.”"
    assert _speaker_of(text) == {}


def test_time_scope_years_and_who_said_are_read_from_the_question():
    from qa.answer.features import article_date, years_in

    assert years_in("rated in 2019/20, 2017-18 and 2015-2016") == {"2015", "2016", "2017", "2018", "2019", "2020"}
    assert years_in("in 2016 and 1999") == {"1999", "2016"} and years_in("a 12/2016 total of 1234") == {"2016"}
    assert article_date("", "CNN news quiz evidence, 2022/02/24") == "2022-02-24" and article_date("2018", "x 2022/02/24") == "2018"
    assert understand("How many CCGs were rated good in 2019/20?").scope == {(2019, 2020)}
    assert understand("Who chairs Hull CCG?").scope == frozenset()
    for q in ("Who said that ratings aren't everything?", "who sed ratings arent everything?",
              "Who called the rating disappointing?", "According to whom is the CCG facing difficult decisions?"):
        assert understand(q).who_said, q
    assert not understand("Who was the chief officer in 2016?").who_said


def test_an_acronyms_plural_is_the_acronym():
    assert tokenize("CCGs") == tokenize("CCG") == tokenize("CCG's") == ["ccg"] and tokenize("MPs' GPs") == ["mp", "gp"]
    # an acronym ending in S, a title, a word the rule would make a stopword
    assert tokenize("NHS Mrs DOs", keep_stopwords=True) == ["nhs", "mrs", "dos"]


def test_how_many_and_how_much_are_the_question_word_not_words_an_answer_must_hold():
    lexical = Lexical.build(["Many CCGs changed much.", "Money for CCGs.", "Other words."])
    terms = weigh_terms(understand("How many CCGs and how much money?"), lexical, Tuning())
    assert set(terms.base) == set(terms.cover) == {"ccg", "money"}
    assert "mani" in weigh_terms(understand("Why did many CCGs fail?"), lexical, Tuning()).cover  # "many" of its own
