"""bench.fit_encoder's data and measure, without the model: which passages count, and how rankings are scored."""

from __future__ import annotations

import numpy as np

from bench.fit_encoder import Corpus, ranking, relevant
from qa.evaluate import Question


def test_a_passage_counts_when_it_is_from_a_gold_article_and_holds_the_evidence():
    corpus = Corpus(["a", "a", "b"], ["Hull CCG was rated good.", "Its chief officer is Emma Latimer.",
                                      "Emma Latimer spoke at Doncaster."])
    with_evidence = Question("q1", "Who runs Hull CCG?", doc_ids=("a",), evidence=("Its chief officer is Emma Latimer.",))
    article_only = Question("q2", "What was Hull rated?", doc_ids=("a",))
    assert relevant([with_evidence, article_only], corpus) == [[1], [0, 1]]


def test_rankings_score_hit_at_1_and_the_reciprocal_rank_of_the_first_relevant_passage():
    sims = np.array([[0.9, 0.1, 0.5],    # relevant passage first
                     [0.2, 0.3, 0.8],    # relevant passage third
                     [0.9, 0.8, 0.7]])   # none relevant
    figures = ranking(sims, [[0], [0], []])
    assert figures == {"n": 3, "hit@1": round(1 / 3, 4), "mrr@10": round((1 + 1 / 3) / 3, 4)}
