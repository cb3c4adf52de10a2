from hypothesis import given, settings, strategies as st

from qa.clean import clean_text
from qa.config import ChunkSettings
from qa.corpus import scan_corpus
from qa.segment import count_tokens, make_passages, sentence_spans
from tests.conftest import SEED_CORPUS

text_strategy = st.lists(
    st.sampled_from(list("abc XYZ.!?\n\n“”‘’'\"-–…0123456789é,;:\t\x1b\u00a0") + ["Mr. ", "e.g. ", "U.S. ", "Hide Ad\n", "'˜"]),
    max_size=300,
).map("".join) | st.text(max_size=300)


@settings(max_examples=150, deadline=None)
@given(text_strategy, st.integers(min_value=5, max_value=80), st.integers(min_value=0, max_value=2))
def test_offsets_always_slice_back(raw, budget, overlap):
    text = clean_text(raw)
    spans = sentence_spans(text)
    for a, b in zip(spans, spans[1:]):
        assert a.end <= b.start
    for s in spans:
        piece = text[s.start:s.end]
        assert piece and piece == piece.strip()
    passages = make_passages(text, spans, ChunkSettings(max_tokens=budget, overlap_sentences=overlap))
    covered = set()
    for p in passages:
        assert text[p.start:p.end].startswith(text[spans[p.first_sentence].start:spans[p.first_sentence].end])
        assert p.start == spans[p.first_sentence].start and p.end == spans[p.last_sentence - 1].end
        covered.update(range(p.first_sentence, p.last_sentence))
    assert covered == set(range(len(spans)))


def test_seed_passages_fit_the_model_and_overlap():
    settings_ = ChunkSettings()
    for art in scan_corpus(SEED_CORPUS, 5_000_000).articles:
        spans = sentence_spans(art.text)
        passages = make_passages(art.text, spans, settings_)
        assert passages
        for p in passages:
            if p.last_sentence - p.first_sentence > 1:
                assert count_tokens(art.text[p.start:p.end]) <= settings_.max_tokens
        for a, b in zip(passages, passages[1:]):
            assert b.first_sentence == a.last_sentence - settings_.overlap_sentences


def test_sentences_of_a_paragraph():
    text = "Mr. Smith said: “It was bad.” Then he left. Ratings fell by 4.5% in 2019/20!"
    pieces = [text[s.start:s.end] for s in sentence_spans(text)]
    assert pieces == ["Mr. Smith said: “It was bad.”", "Then he left.", "Ratings fell by 4.5% in 2019/20!"]


def test_very_long_sentence_is_cut():
    text = "word " * 1000
    spans = sentence_spans(text.strip(), max_chars=300)
    assert len(spans) > 10 and all(s.end - s.start <= 300 for s in spans)
