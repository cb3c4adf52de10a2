"""The naive baselines qa is measured beside (bench.naive): passages as ../shared/README.md makes them, scored as qa eval."""

from __future__ import annotations

from bench.naive import WORDS, naive_passages, ranking
from qa.evaluate import parse_question


def test_naive_passages_merge_an_articles_paragraphs_to_about_120_words(tmp_path):
    para = " ".join(["word"] * 50)
    (tmp_path / "a.txt").write_text("Title line\n\n" + "\n\n".join([para] * 5), encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("Short one\n\nOnly a few words.", encoding="utf-8")
    (tmp_path / "c.txt").write_text("C\n" + "\n".join([para] * 3), encoding="utf-8")  # paragraphs on single lines
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "d.txt").write_text("skipped", encoding="utf-8")
    passages = naive_passages(tmp_path)
    assert [len(t.split()) for d, t in passages if d == "a"] == [152, 100]  # title + 3 paragraphs reach WORDS
    assert [len(t.split()) for d, t in passages if d == "c"] == [151] and WORDS <= 151  # a line is a paragraph
    assert ("sub/b", "Short one\n\nOnly a few words.") in passages  # doc ids as qa gives them; a short article whole
    assert not any(d.startswith(".hidden") for d, _ in passages)


def test_naive_ranking_is_hit_at_1_and_mrr_at_10_over_gold_articles():
    passages = [("a", "x"), ("b", "y"), ("c", "z")]
    qs = [parse_question({"id": "1", "question": "q?", "doc_ids": ["b"]}, "t"),
          parse_question({"id": "2", "question": "q?", "doc_ids": ["a"]}, "t"),
          parse_question({"id": "3", "question": "q?", "doc_ids": ["c"]}, "t")]
    got = ranking(qs, passages, [[1, 0, 2], [1, 2, 0], [0, 1]])
    assert got == {"hit@1": round(1 / 3, 4), "mrr@10": round((1 + 1 / 3 + 0) / 3, 4)}
    # with evidence, a passage of the gold article counts only when it holds the evidence sentence
    with_evidence = [parse_question({"id": "4", "question": "q?", "doc_ids": ["a"], "evidence": ["the answer is here"]}, "t")]
    rows = [("a", "nothing to see"), ("a", "Yes: the answer is here.")]
    assert ranking(with_evidence, rows, [[0, 1]]) == {"hit@1": 0.0, "mrr@10": 0.5}
