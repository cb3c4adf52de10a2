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
