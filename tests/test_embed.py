"""The real embedder's thread use: one question on one thread, batches on every core (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from qa.embed import SentenceTransformerEmbedder


@pytest.fixture
def torch_two_threads():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield torch
    torch.set_num_threads(before)


def test_one_question_is_encoded_on_one_thread_and_a_batch_on_all(torch_two_threads):
    torch = torch_two_threads
    threads: list[int] = []

    class Model:  # stands in for the SentenceTransformer: records the threads each call ran with
        def encode_query(self, texts, **kwargs):
            threads.append(torch.get_num_threads())
            return np.zeros((len(texts), 4), dtype=np.float32)

    embedder = object.__new__(SentenceTransformerEmbedder)  # no model load
    embedder.model = Model()
    embedder.encode_queries(["Why was North Derbyshire rated inadequate?"])
    embedder.encode_queries(["first question", "second question", "third question"])
    assert threads == [1, 2]
    assert torch.get_num_threads() == 2  # restored for the indexing that follows


@pytest.mark.slow
def test_the_default_model_encodes_with_the_fitted_encoder_deltas_and_only_them(real_embedder):
    """The shipped deltas (qa.deltas, bench.fit_encoder) are in the model that embeds passages and questions:
    its vectors differ from the packaged model's, and taking the deltas away gives the packaged model's back."""
    import copy

    from sentence_transformers import SentenceTransformer

    from qa import deltas
    from qa.config import DEFAULT_MODEL
    from qa.embed import resolve_model

    assert real_embedder.deltas is not None and real_embedder.deltas == deltas.digest_for(DEFAULT_MODEL)
    question = ["Who was the chief officer of Cambridgeshire and Peterborough CCG in 2016?"]
    packaged = SentenceTransformer(str(resolve_model(DEFAULT_MODEL)), device="cpu", local_files_only=True)
    plain = packaged.encode_query(question, normalize_embeddings=True)[0]
    fitted = real_embedder.encode_queries(question)[0]
    assert float(plain @ fitted) < 0.999
    undone = copy.deepcopy(real_embedder.model)
    real_embedder.encoder_deltas.add(undone[0].auto_model, sign=-1.0)
    assert float(plain @ undone.encode_query(question, normalize_embeddings=True)[0]) > 0.9999
