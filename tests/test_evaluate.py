"""Question-set parsing and metric definitions (no model needed)."""

import json
from pathlib import Path

import pytest

from qa.errors import EvalError
from qa.evaluate import Question, evaluate_one, evidence_match, load_questions, missed_floors, norm, parse_floor, quote_correct


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "a", "question": "ok?"}\n{not json}\n', "line 2: not valid JSON"),
        ('{"id": "a"}\n', "q.jsonl line 1: missing required field 'question'"),
        ('{"id": "a", "question": "x", "doc_ids": ["d"], "evidence": [1]}\n', "q.jsonl line 1: 'evidence' must be a list of strings"),
        ('{"id": "a", "question": "x", "doc_ids": "d"}\n', "q.jsonl line 1: 'doc_ids' must be a list of strings"),
        ('{"id": "a", "question": "x", "evidence": "the board"}\n', "q.jsonl line 1: 'evidence' must be a list of strings"),
        ('{"id": "a", "question": "x"}\n\n{"id": "a", "question": "y"}\n', "q.jsonl line 3: duplicate id"),
        ('[1, 2]\n', "line 1: expected a JSON object"),
        ('{"id": "a", "question": "x", "since": "2019-13"}\n', "q.jsonl line 1: 'since' takes a year, a year-month or a date"),
        ('{"id": "a", "question": "x", "asked": "July 2022"}\n', "q.jsonl line 1: 'asked' takes a date \\(2022-07-08\\)"),
        ('{"id": "a", "question": "x", "asked": "2022-02-30"}\n', "q.jsonl line 1: 'asked' takes a date \\(2022-07-08\\)"),
    ],
)
def test_bad_lines_name_the_line_and_the_problem(tmp_path, content, message):
    with pytest.raises(EvalError, match=message):
        list(load_questions(write(tmp_path, content)))


def test_a_question_may_carry_a_date_filter(tmp_path):
    [q, plain] = load_questions(write(tmp_path, '{"id": "a", "question": "x", "since": "2019", "until": 2020}\n'
                                                '{"id": "b", "question": "y"}\n'))
    assert (q.dates.since, q.dates.until) == ("2019", "2020") and not plain.dates.active


def test_a_question_is_asked_on_the_day_it_carries(tmp_path):
    [q, plain] = load_questions(write(tmp_path, '{"id": "a", "question": "x", "asked": "2022-07-08"}\n'
                                                '{"id": "b", "question": "y"}\n'))

    class Asked(Exception):
        pass

    class Engine:
        def ask(self, *args, **kwargs):
            raise Asked(repr(kwargs["asked"]))

    with pytest.raises(Asked, match="'2022-07-08'"):
        evaluate_one(Engine(), q, "hybrid")
    with pytest.raises(Asked, match="''"):  # no day: asked today
        evaluate_one(Engine(), plain, "hybrid")


def test_a_quiz_set_gains_the_day_of_its_quiz():
    from bench.asked import with_asked

    assert json.loads(with_asked('{"id": "20220708_3", "question": "x"}'))["asked"] == "2022-07-08"
    assert "asked" not in json.loads(with_asked('{"id": "nd-why", "question": "x"}'))


def test_project_question_set_is_well_formed():
    qs = list(load_questions(Path(__file__).resolve().parent.parent / "questions" / "ccg.jsonl"))
    assert len(qs) >= 50
    assert sum(q.unanswerable for q in qs) >= 10
    assert sum(bool(q.history) for q in qs) >= 6


def test_matching_ignores_case_spacing_and_quote_style():
    assert norm("The  CCG’s ‘rating’") == "the ccg's 'rating'"
    assert evidence_match("He said the CCG's 'rating'  fell.", ("the CCG’s ‘rating’ fell",))
    q = Question(id="1", question="?", doc_ids=("a",), answers=("£28 million",))
    assert quote_correct(q, "a", "savings of £28 million after")
    assert not quote_correct(q, "b", "savings of £28 million after")


def test_floors():
    assert parse_floor("hit@1=0.8") == ("hit@1", 0.8)
    with pytest.raises(EvalError):
        parse_floor("bogus=1")
    assert missed_floors({"hit@1": 0.7, "latency_ms_p50": 10.0}, [("hit@1", 0.8), ("latency_ms_p50", 50)]) == ["hit@1 = 0.7000 (floor 0.8)"]


def test_ranking_metrics_in_batches_equal_one_batch():
    from qa.evaluate import RankingTotals, ranking_metrics

    qrels = {f"q{i}": {f"d{i % 7}": 1, f"d{i % 5}": 1} for i in range(40)}
    run = {f"q{i}": {f"d{j}": float(10 - j) for j in range((i * 3) % 10)} for i in range(40)}
    whole = ranking_metrics(qrels, run)
    totals = RankingTotals()
    for lo in range(0, 40, 15):
        keys = list(qrels)[lo:lo + 15]
        totals.add({k: qrels[k] for k in keys}, {k: run[k] for k in keys})
    assert totals.means() == pytest.approx(whole)
    assert 0 < whole["hit@1"] < whole["hit@10"] <= 1


def test_bad_beir_folders_name_the_file_and_line(tmp_path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "x"}\n{oops\n')
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\tnot-a-number\n")
    with pytest.raises(EvalError, match="test.tsv line 2: expected query-id, corpus-id, score"):
        list(load_questions(tmp_path))
    (tmp_path / "qrels" / "test.tsv").write_text("q1\td1\t1\nq2\td2\t1\n")
    with pytest.raises(EvalError, match="queries.jsonl line 2: not valid JSON"):
        list(load_questions(tmp_path))


def test_failures_are_declined_or_wrong_answers_and_answered_unanswerables():
    from qa.evaluate import Outcome
    from qa.render import failures_table

    def outcome(id_: str, unanswerable: bool, abstained: bool, first_ok: bool | None) -> Outcome:
        return Outcome(id=id_, question="?", unanswerable=unanswerable, abstained=abstained, rank=None, first_ok=first_ok,
                       any_ok=first_ok, match=None, citations=0, citations_ok=0, latency_ms=1.0, answer="an answer")

    outcomes = [outcome("right", False, False, True), outcome("wrong", False, False, False),
                outcome("declined", False, True, None), outcome("abstained", True, True, None),
                outcome("answered", True, False, None)]
    assert [o.id for o in outcomes if o.failed] == ["wrong", "declined", "answered"]
    table = failures_table({"questions": [o.__dict__ for o in outcomes]})
    assert [str(cell) for cell in table.columns[0]._cells] == ["wrong", "declined", "answered"]


def test_beir_files_that_are_not_utf8_or_not_json_name_the_file_and_line(tmp_path):
    from qa.evaluate import beir_corpus

    (tmp_path / "qrels").mkdir()
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "x"}\n')
    (tmp_path / "qrels" / "test.tsv").write_bytes("query-id\tcorpus-id\tscore\nq1\tdé1\t1\n".encode("latin-1"))
    with pytest.raises(EvalError, match=r"test.tsv line 2: not UTF-8 text \(byte 0xe9 at column 5\)"):
        list(load_questions(tmp_path))
    (tmp_path / "corpus.jsonl").write_bytes(b'{"_id": "d1", "text": "ok"}\n\xff\xfe{"_id": "d2"}\n')
    with pytest.raises(EvalError, match=r"corpus.jsonl line 2: not UTF-8 text \(byte 0xff at column 1\)"):
        beir_corpus(tmp_path, tmp_path / "cache")
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "text": "ok"}\n{"text": "no id"}\n')
    with pytest.raises(EvalError, match=r"corpus.jsonl line 2: expected a JSON object with an '_id'"):
        beir_corpus(tmp_path, tmp_path / "cache")
