"""What `qa ask` prints for an answer: the answer, then each source with its quote in a line of context."""

from __future__ import annotations

from rich.console import Console

from qa.answer import Answer, Citation
from qa.render import CONTEXT_CHARS, answer_renderables

BEFORE = "The board met on a wet Tuesday in March to discuss the budget, the deficit and the many savings it must find. "
QUOTE = "The CCG was rated inadequate."
AFTER = " It said it would appeal against the rating, and that services for patients in the county would not change at all."


def printed(answer: Answer, width: int = 200) -> str:
    console = Console(width=width, record=True, color_system=None)
    for item in answer_renderables(answer):
        console.print(item)
    return console.export_text()


def test_qa_ask_shows_one_line_of_context_each_side_of_a_quote():
    text = BEFORE + QUOTE + AFTER
    start = len(BEFORE)
    c = Citation(n=1, doc_id="d", title="Rated", date="2016", source="Telegraph", start=start, end=start + len(QUOTE),
                 quote=QUOTE, context=text, context_start=0, score=1.0)
    out = printed(Answer(question="q?", answer=f"{QUOTE} [1]", abstained=False, citations=[c]))
    line = next(x for x in out.splitlines() if QUOTE in x and "[1]" not in x).strip()
    before, after = line.split(QUOTE)
    assert before.startswith("…") and BEFORE.strip().endswith(before.strip()[1:])
    assert after.strip().endswith("…") and AFTER.strip().startswith(after.strip()[:-1])
    assert len(before.strip()) <= CONTEXT_CHARS and len(after.strip()) <= CONTEXT_CHARS
    assert len(BEFORE) > CONTEXT_CHARS and len(AFTER) > CONTEXT_CHARS  # there was more to cut


def test_short_context_is_shown_whole():
    text = "It met. " + QUOTE + " It will appeal."
    start = text.index(QUOTE)
    c = Citation(n=1, doc_id="d", title="Rated", date="", source="", start=start, end=start + len(QUOTE),
                 quote=QUOTE, context=text, context_start=0, score=1.0)
    out = printed(Answer(question="q?", answer=f"{QUOTE} [1]", abstained=False, citations=[c]))
    assert "It met. The CCG was rated inadequate. It will appeal." in out and "…" not in out


def test_a_quote_other_articles_repeat_lists_them_once_under_the_quote_in_the_cli_and_the_chat():
    from qa.answer.citation import Source
    from qa.tui.app import CitationItem

    c = Citation(n=1, doc_id="d", title="Rated", date="2017", source="", start=0, end=len(QUOTE), quote=QUOTE,
                 context=QUOTE, context_start=0, score=1.0,
                 also_in=(Source("copy", "[Copy] told to save", "2017-09-01", 10, 39),
                          Source("wire", "Wire story", "", 0, 29)))
    out = printed(Answer(question="q?", answer=f"{QUOTE} [1]", abstained=False, citations=[c]))
    line = next(x for x in out.splitlines() if "also in" in x).strip()
    assert line == "also in 2 other articles: [Copy] told to save (2017-09-01) copy [10:39]; Wire story wire [0:29]"
    chat = CitationItem(c).content  # the chat's source card: article text shown as text, not markup
    assert "also in 2 other articles: [Copy] told to save (2017-09-01)" in str(chat)

def test_a_timeline_prints_as_a_dated_list_each_entry_led_by_its_date():
    quotes = [("2016", "26 CCGs were rated inadequate in the first assessment, the report said on its first page."),
              ("2018", "Each CCG in the country has received an overall assessment."),
              ("2020", "NHS England analysed 191 CCGs in this year's report.")]
    cites = [Citation(n=i + 1, doc_id=f"d{i}", title=f"T{i}", date=d, source="", start=0, end=len(q), quote=q, context=q,
                      context_start=0, score=1.0) for i, (d, q) in enumerate(quotes)]
    answer = Answer(question="How has it changed?", answer="\n".join(f"{d}: {q} [{i + 1}]" for i, (d, q) in enumerate(quotes)),
                    abstained=False, citations=cites, kind="timeline")
    lines = printed(answer, width=60).split("\nSources")[0].splitlines()
    led = [line.split()[0] for line in lines if line[:1].strip()]  # an entry's first line starts at the margin
    assert led == ["2016", "2018", "2020"]
    first = lines[0]
    assert first.startswith("2016  26 CCGs") and len(lines) > len(led)  # the long quote wrapped ...
    assert all(line.startswith(" " * 6) for line in lines if not line[:1].strip() and line.strip())  # ... beside its date


def test_a_timeline_date_is_shown_as_text_not_read_as_markup():
    quote = "26 CCGs were rated inadequate."
    cites = [Citation(n=1, doc_id="d", title="T", date="[/x] 2020 [red]", source="", start=0, end=len(quote), quote=quote,
                      context=quote, context_start=0, score=1.0)]
    answer = Answer(question="How has it changed?", answer=quote, abstained=False, citations=cites, kind="timeline")
    assert printed(answer).startswith("[/x] 2020 [red]  26 CCGs")
