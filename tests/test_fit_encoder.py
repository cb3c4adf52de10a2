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


def _tiny_bert():
    from transformers import BertConfig, BertModel

    return BertModel(BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=16, max_position_embeddings=16))


def test_another_round_starts_from_the_deltas_fitted_before_and_refuses_other_ones(tmp_path, capsys):
    import pytest
    import torch

    from bench.fit_encoder import main, resume
    from bench.fit_reader import lora_layers, save
    from qa.config import DEFAULT_MODEL

    torch.manual_seed(0)
    fitted = lora_layers(_tiny_bert(), 4, 4.0)
    for layer in fitted.values():
        torch.nn.init.normal_(layer.lora_b)  # as after training: not the zeros a fresh delta starts from
    out = tmp_path / "encoder.safetensors"
    save(fitted, None, {"model": DEFAULT_MODEL, "rank": 4, "alpha": 4.0, "targets": sorted(fitted),
                        "training": {"epochs": 1}}, out)

    again = lora_layers(_tiny_bert(), 4, 4.0)
    record = resume(again, out, 4)
    for name, layer in again.items():  # float16 on disk
        assert torch.allclose(layer.lora_b, fitted[name].lora_b.half().float())
        assert torch.allclose(layer.lora_a, fitted[name].lora_a.half().float())
    assert record["training"] == {"epochs": 1} and len(record["sha256"]) == 64
    with pytest.raises(SystemExit, match="--rank 4"):
        resume(lora_layers(_tiny_bert(), 8, 8.0), out, 8)
    # a second round never writes over the deltas it starts from (the shipped ones, by default)
    with pytest.raises(SystemExit):
        main(["--start", str(out), "--out", str(out)])
    assert "--out would overwrite --start" in capsys.readouterr().err
