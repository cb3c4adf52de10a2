"""The reader (the short answer's span finder): decoding, the export's faithfulness to the fitted weights, its use."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from qa.answer import understand
from qa.answer.reader import ReaderSpan, best_pair, best_pairs, export_for, log_softmax
from qa.answer.short import best_span, trim
from qa.answer.tuning import Tuning
from qa.index import current_generation, read_manifest, write_manifest
from qa.session import open_session


def test_the_best_pair_is_in_the_text_in_order_and_no_longer_than_allowed():
    start = np.log(np.array([0.05, 0.6, 0.05, 0.1, 0.1, 0.1]))  # token 1 is the question's: never a start
    end = np.log(np.array([0.05, 0.05, 0.1, 0.05, 0.05, 0.7]))
    context = [2, 3, 4, 5]
    i, j, p = best_pair(start, end, context, max_answer=4)
    assert (i, j) == (3, 5) and p == pytest.approx(0.1 * 0.7)  # the end comes after the start, inside the text
    i, j, _ = best_pair(start, end, context, max_answer=2)
    assert (i, j) == (4, 5)  # at most two tokens long
    end_before = np.log(np.array([0.05, 0.05, 0.8, 0.03, 0.03, 0.04]))
    i, j, _ = best_pair(np.log(np.array([0.1, 0.1, 0.1, 0.5, 0.1, 0.1])), end_before, context, max_answer=4)
    assert i <= j


def test_the_likeliest_pairs_come_best_first_as_a_full_ranking_of_the_allowed_spans_gives_them():
    rng = np.random.default_rng(0)
    start, end = log_softmax(rng.normal(size=12)), log_softmax(rng.normal(size=12))
    context = list(range(3, 11))
    allowed = [(i, j) for i in context for j in context if 0 <= j - i < 4]
    ranked = sorted(allowed, key=lambda p: -(start[p[0]] + end[p[1]]))
    pairs = best_pairs(start, end, context, max_answer=4, k=5)
    assert [(i, j) for i, j, _ in pairs] == ranked[:5]
    assert [p for *_, p in pairs] == pytest.approx([float(np.exp(start[i] + end[j])) for i, j in ranked[:5]])
    assert len(best_pairs(start, end, context, max_answer=4, k=100)) == len(allowed)  # no more than there are
    tie_start, tie_end = np.log(np.full(6, 1 / 6)), np.log(np.full(6, 1 / 6))  # all alike: the earlier start, then end
    assert [(i, j) for i, j, _ in best_pairs(tie_start, tie_end, [2, 3, 4], max_answer=2, k=3)] == [(2, 2), (2, 3), (3, 3)]
    assert best_pairs(start, end, context, max_answer=0, k=3) == [] and best_pairs(start, end, context, 4, k=0) == []


def test_log_softmax_is_a_distribution_even_for_large_logits():
    z = log_softmax(np.array([1000.0, 999.0, -1000.0]))
    assert np.exp(z).sum() == pytest.approx(1.0) and z[0] > z[1] > z[2]


def test_a_span_is_whole_words_without_the_punctuation_at_its_ends_but_an_abbreviations_full_stop():
    text = 'He said: "£28 million," in the U.S. today, North Derbyshire saves £2.5m. It is 3.5%. Now \u2013 26 \u2013 ok.'
    def cut(start: int, end: int) -> str:
        return text[slice(*trim(text, start, end))]

    s = text.index('"£28')
    assert cut(s, text.index(",") + 2) == "£28 million"
    u = text.index("U.S.")
    assert cut(u, u + 5) == "U.S." and cut(u, u + 4) == "U.S."
    d = text.index("Derby")
    assert cut(d + 2, d + 5) == "Derbyshire"  # a word piece widened to its word
    m = text.index("£2.5m.")
    assert cut(m, m + 6) == "£2.5m" and cut(text.index("3.5%."), text.index("3.5%.") + 5) == "3.5%"
    assert cut(text.index("\u2013 26"), text.index("26 \u2013") + 4) == "26"
    assert trim(text, 7, 9) == (9, 9)  # only punctuation: nothing


class StubReader:
    """A reader that answers with a fixed span of whatever text it is given."""

    def __init__(self, start: int, end: int, p: float) -> None:
        self.span = ReaderSpan(start, end, p)
        self.asked: list[tuple[str, str]] = []

    def spans(self, question: str, text: str, k: int = 1) -> list[ReaderSpan]:
        self.asked.append((question, text))
        return [self.span]


def test_the_readers_span_is_trimmed_and_only_asked_for_questions_a_span_can_answer():
    quote = "North Derbyshire must save (£28 million) this year."
    reader = StubReader(quote.index("(£28"), quote.index(")") + 1, 0.8)
    pick = best_span(understand("How much must North Derbyshire save?"), quote, Tuning(), reader)
    assert pick is not None and pick.text == "£28 million" and quote[pick.start:pick.end] == pick.text
    assert pick.confidence == 0.8
    assert best_span(understand("Why was North Derbyshire rated inadequate?"), quote, Tuning(), reader) is None
    assert best_span(understand("Did North Derbyshire save money?"), quote, Tuning(), reader) is None
    assert len(reader.asked) == 1


def test_a_training_near_miss_asks_its_sentence_about_a_name_or_year_it_lacks():
    from bench.fit_reader import near_miss

    sentence = "Emma Latimer, Hull CCG accountable officer, said the rating was deserved."
    miss = near_miss("Who is Hull CCG's accountable officer?", sentence, ["Doncaster CCG", "Hull CCG"], random.Random(0))
    assert miss == "Who is Doncaster CCG's accountable officer?"
    # a name holding the one asked about is no other name ("Hull CCG Board" is still Hull's)
    assert near_miss("Who is Hull CCG's accountable officer?", sentence, ["Hull CCG Board"], random.Random(0)) is None
    for seed in range(8):  # another year than any the sentence names, "2016/17" naming 2017 too
        year = near_miss("How was the CCG rated in 2016?", "In 2016/17 the CCG was rated inadequate.", [], random.Random(seed))
        assert year is not None and year[-5:-1] not in ("2016", "2017") and year.startswith("How was the CCG rated in 20")
    from bench.fit import move_year  # the year mover bench.fit's near misses use too

    assert move_year("Rated in 2016, or 2017?", [1, 3], lambda y: y == "2017") == "Rated in 2019, or 2017?"
    assert move_year("Rated in 2016?", [1], lambda y: True) is None and move_year("Rated?", [1], lambda y: False) is None
    # no name of the question is the sentence's, or no other name to ask about: no near miss
    assert near_miss("What was Leeds rated?", sentence, ["Doncaster CCG"], random.Random(0)) is None
    assert near_miss("Who is Hull CCG's accountable officer?", sentence, ["Hull CCG", "Latimer"], random.Random(0)) is None


def test_a_new_reader_export_deletes_those_of_other_weights_and_nothing_else(tmp_path):
    import json as jsonlib

    from qa.answer.reader import META_FILE, MODEL_FILE, QUANTIZE, TOKENIZER_FILE
    from qa.onnx_export import prune_readers

    def export(name: str, weights: str, quantize: str = QUANTIZE) -> Path:
        folder = tmp_path / "onnx" / name
        folder.mkdir(parents=True)
        (folder / MODEL_FILE).write_bytes(b"graph")
        (folder / TOKENIZER_FILE).write_text("{}")
        (folder / META_FILE).write_text(jsonlib.dumps({"model": "m", "sha256": "s", "weights": weights, "max_length": 192,
                                                       "max_answer": 25, "quantize": quantize}))
        return folder

    current, twin = export("reader-m-new", "w2"), export("reader-m-twin", "w2")  # another model file, same weights
    stale, other_store = export("reader-m-old", "w1"), export("reader-m-f32", "w2", "float32")
    encoder = tmp_path / "onnx" / "m-0123"  # a question encoder's export: never a reader's to delete
    encoder.mkdir()
    assert sorted(prune_readers(current)) == sorted([stale, other_store])
    assert current.is_dir() and twin.is_dir() and encoder.is_dir() and not stale.exists() and not other_store.exists()


# --- with the real model -------------------------------------------------------------------------

@pytest.mark.slow
def test_the_exported_reader_scores_as_the_fitted_weights_do_in_torch(real_index, real_embedder):
    """The export merges the fitted low-rank deltas into the model and quantizes it: its logits follow the
    unmerged model's."""
    import torch
    from sentence_transformers import SentenceTransformer

    from bench.fit_reader import load, lora_layers
    from qa.answer.reader import WEIGHTS, Reader, settings
    from qa.config import DEFAULT_MODEL
    from qa.embed import resolve_model
    from qa.onnx_export import merged_reader

    reader = Reader(export_for(read_manifest(current_generation(real_index.index_dir)), real_index.model))
    fitted = settings()
    # the reader was fitted on the model as packaged, not on the retrieval encoder the index embeds with
    model = SentenceTransformer(str(resolve_model(DEFAULT_MODEL)), device="cpu", local_files_only=True)[0].auto_model.eval()
    layers = lora_layers(model, fitted["rank"], fitted["alpha"])
    head = torch.nn.Linear(model.config.hidden_size, 2)
    load(layers, head, WEIGHTS)  # the fitted deltas beside the model, not merged into it as the export does
    question = "How many CCGs were rated inadequate in the first assessment?"
    text = ("The first CCG assessment report using the Ofsted-style rating system, which was announced last year, has "
            "rated 10 CCGs as \u2018outstanding\u2019, a further 82 as \u2018good\u2019, 91 were found to \u2018require "
            "improvement\u2019, while 26 CCGs were found to be \u2018inadequate\u2019.")  # a seed article's sentence
    tok = real_embedder.model.tokenizer
    enc = tok(question, text, return_tensors="pt")
    with torch.inference_mode():
        expected = head(model(**enc).last_hidden_state)[0].numpy()
        # what the export merges, before quantizing: the fitted model's weights less the encoder deltas, plus the reader's
        merged, merged_head = merged_reader(real_embedder.model[0].auto_model, fitted, real_embedder.encoder_deltas)
        assert np.allclose(merged_head(merged(**enc).last_hidden_state)[0].numpy(), expected, atol=1e-3)
    got = reader.tokenizer.encode(question, text)
    assert got.ids == enc["input_ids"][0].tolist()
    ids = np.array([got.ids])
    start, end = reader.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                           "token_type_ids": np.array([got.type_ids])})
    for got_logits, want in ((start[0], expected[:, 0]), (end[0], expected[:, 1])):  # int8 weights: close, not equal
        assert np.corrcoef(got_logits, want)[0, 1] > 0.99
    context = [j for j, sid in enumerate(got.sequence_ids) if sid == 1]
    i, j, _ = best_pair(log_softmax(expected[:, 0]), log_softmax(expected[:, 1]), context, reader.meta.max_answer)
    span, = reader.spans(question, text)
    assert (span.start, span.end) == (got.offsets[i][0], got.offsets[j][1])  # the same span as the fitted weights'
    assert text[span.start:span.end] == "26" and 0 < span.p <= 1


@pytest.mark.slow
def test_an_index_whose_manifest_lacks_the_reader_answers_with_this_machines_export_without_torch(real_index, monkeypatch):
    """A Milvus index built before the reader, a read-only folder: the manifest can't name it, the cache does."""
    import qa.embed

    gen = current_generation(real_index.index_dir)
    manifest = read_manifest(gen)
    assert export_for(manifest, real_index.model) is not None  # the build named the reader's export
    write_manifest(gen, {k: v for k, v in manifest.items() if k != "reader"})
    monkeypatch.setattr(qa.embed, "get_embedder", lambda model: pytest.fail("loaded the torch model"))
    try:
        with open_session(real_index, sync="never") as session:
            assert session.engine.reader is not None
            answer = session.engine.ask("How much money does North Derbyshire have to save?")
            assert answer.short_answer is not None and answer.short_answer.text == "£28 million"
    finally:
        write_manifest(gen, manifest)


@pytest.mark.slow
def test_an_index_built_before_the_reader_gets_it_on_first_use_on_a_machine_without_it(real_index, tmp_path, monkeypatch):
    gen = current_generation(real_index.index_dir)
    manifest = read_manifest(gen)
    write_manifest(gen, {k: v for k, v in manifest.items() if k not in ("reader", "query_encoder")})  # an old build
    monkeypatch.setenv("QA_CACHE", str(tmp_path / "cache"))  # a machine that never exported either
    try:
        with open_session(real_index, sync="never") as session:
            assert session.engine.reader is not None
        named = read_manifest(gen)["reader"]
        assert named["path"].startswith(str(tmp_path / "cache")) and export_for(read_manifest(gen), real_index.model)
    finally:
        write_manifest(gen, manifest)


@pytest.mark.slow
def test_a_very_long_question_still_gets_an_answer_from_the_reader(real_index):
    wordy = ("Thinking about all of the many reports and the long history of these organisations, and with every "
             "caveat one could reasonably add, ") * 12 + "how much money does North Derbyshire have to save?"
    quote = "North Derbyshire CCG must save \u00a328 million this year."
    with open_session(real_index, sync="never") as session:
        reader = session.engine.reader
        assert reader is not None and len(wordy) > 1400
        span, = reader.spans(wordy, quote)  # the pair is cut to fit: no error
        assert 0 <= span.start < span.end <= len(quote)
        session.engine.ask(wordy)  # answered or declined, never an error


@pytest.mark.slow
def test_a_reader_that_could_not_be_exported_is_not_tried_again_and_the_linear_scorer_answers(real_index, tmp_path, monkeypatch):
    import qa.embed
    from qa.answer.reader import unexported

    monkeypatch.setenv("QA_CACHE", str(tmp_path / "cache"))  # this machine's cache holds no export either
    gen = current_generation(real_index.index_dir)
    manifest = read_manifest(gen)
    write_manifest(gen, {**manifest, "reader": unexported(real_index.model)})  # as a build whose export failed leaves it
    monkeypatch.setattr(qa.embed, "get_embedder", lambda model: pytest.fail("loaded the torch model to export again"))
    try:
        with open_session(real_index, sync="never") as session:
            assert session.engine.reader is None
            short = session.engine.ask("How much money does North Derbyshire have to save?").short_answer
            assert short is not None and short.text == "£28 million"
    finally:
        write_manifest(gen, manifest)
