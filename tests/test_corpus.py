import json
from pathlib import Path

import pytest

from qa.corpus import guess_title, parse_front_matter, scan_corpus
from tests.conftest import SEED_CORPUS

SHARED_CORPUS = SEED_CORPUS.parent.parent / "shared" / "corpus"  # the articles as received


def test_seed_articles_load_with_headlines_and_no_junk():
    result = scan_corpus(SEED_CORPUS, 5_000_000)
    assert result.warnings == []
    assert len(result.articles) == 5
    for art in result.articles:
        assert art.title and art.title != art.doc_id
        for junk in ("Hide Ad", "Ads by Google", "Stock image", "˜", "peterboroughtoday.co.uk"):
            assert junk not in art.text, (art.doc_id, junk)
    by_id = {a.doc_id: a for a in result.articles}
    assert "rating of ‘inadequate’ by NHS England" in by_id["000_d6ad861f9de5a9c7"].text
    assert not by_id["002_1515b01d101f0e19"].text.startswith("This site is intended")


@pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason="needs the source articles in ../shared/corpus")
def test_seed_files_are_copied_unchanged():
    sources = sorted(SHARED_CORPUS.glob("*.txt"))
    assert sources, f"no articles in {SHARED_CORPUS}"
    for src in sources:
        copy = SEED_CORPUS / src.name
        assert copy.is_file() and copy.read_bytes() == src.read_bytes(), src.name


def test_front_matter_sets_metadata(tmp_path: Path):
    (tmp_path / "a.md").write_text("---\ntitle: My headline\ndate: 2020-01-02\nsource: Somewhere\n---\nBody text here.\n")
    art = scan_corpus(tmp_path, 10_000).articles[0]
    assert (art.doc_id, art.title, art.date, art.source, art.text) == ("a", "My headline", "2020-01-02", "Somewhere", "Body text here.")


def test_sidecar_metadata_and_nested_doc_ids(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.txt").write_text("Some body sentence.")
    (tmp_path / "sub" / "x.meta.json").write_text(json.dumps({"title": "Side title", "url": "http://e"}))
    art = scan_corpus(tmp_path, 10_000).articles[0]
    assert (art.doc_id, art.title, art.url) == ("sub/x", "Side title", "http://e")


def test_bad_files_are_skipped_with_one_warning_each(tmp_path: Path):
    (tmp_path / "good.txt").write_text("A fine article about CCG ratings.")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.txt").write_text("   \n\n ")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "big.txt").write_text("word " * 5000)
    (tmp_path / "picture.png").write_bytes(b"\x89PNG")
    (tmp_path / "latin.txt").write_bytes("Caf\xe9 society, na\xefve \xa328m.".encode("latin-1"))
    result = scan_corpus(tmp_path, 10_000)
    assert sorted(a.doc_id for a in result.articles) == ["good", "latin"]
    assert [a.text for a in result.articles if a.doc_id == "latin"] == ["Café society, naïve £28m."]
    assert len(result.warnings) == 5
    for name in ("empty.txt", "blank.txt", "binary.txt", "big.txt", "picture.png"):
        assert sum(w.startswith(name) for w in result.warnings) == 1, (name, result.warnings)
    assert any("size cap" in w for w in result.warnings)


def test_duplicate_text_under_two_names_is_indexed_once(tmp_path: Path):
    (tmp_path / "a.txt").write_text("Same story text.")
    (tmp_path / "b.txt").write_text("Same story text.")
    result = scan_corpus(tmp_path, 10_000)
    assert [a.doc_id for a in result.articles] == ["a"]
    assert "duplicate" in result.warnings[0]


def test_guess_title():
    assert guess_title("A headline\n\nBody.", "id") == "A headline"
    assert guess_title("A first sentence that ends.\nMore.", "id") == "id"


def test_parse_front_matter_without_block():
    assert parse_front_matter("no front matter") == ({}, "no front matter")
