"""Index sync with a deterministic fake embedder: incremental, consistent, crash-safe, locked."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.config import ChunkSettings
from qa.errors import Fix, IndexBusy, IndexCorrupt, IndexIncompatible
from qa.index import current_generation, is_stale, read_manifest, sync
from qa.lexical import Lexical, tokenize
from qa.retrieve import Retriever, open_index
from tests.conftest import live_generation


def build(cfg, embedder, **kw):
    return sync(cfg, lambda: embedder, **kw)


def test_first_build_indexes_every_article(cfg, fake):
    report = build(cfg, fake)
    assert len(report.plan.added) == 5 and report.plan.rebuild
    idx = open_index(cfg)
    assert idx.store.counts()["articles"] == 5
    assert fake.encoded == idx.size == report.passages_total > 5
    for row in idx.store.iter_passages():
        assert idx.store.article(row.doc_id).text[row.start:row.end] == row.text


def test_nothing_changed_embeds_nothing(any_cfg, fake):
    build(any_cfg, fake)
    gen = live_generation(any_cfg)
    fake.encoded = 0
    report = build(any_cfg, fake)
    assert fake.encoded == 0 and not report.plan.changed
    assert gen is not None and live_generation(any_cfg) == gen


def test_changed_article_alone_is_reembedded(cfg, fake):
    build(cfg, fake)
    before = open_index(cfg)
    old_count = len([p for p in before.store.iter_passages() if p.doc_id == "004_9f3181c418ccf80d"])
    path = cfg.corpus_dir / "004_9f3181c418ccf80d.txt"
    path.write_text(path.read_text() + "\nA new closing paragraph about Hull CCG funding.\n")
    fake.encoded = 0
    report = build(cfg, fake)
    assert report.plan.updated == ["004_9f3181c418ccf80d"] and len(report.plan.unchanged) == 4
    after = open_index(cfg)
    new_rows = [p for p in after.store.iter_passages() if p.doc_id == "004_9f3181c418ccf80d"]
    assert fake.encoded == len(new_rows) >= old_count
    assert any("Hull CCG funding" in p.text for p in new_rows)
    assert after.size == before.size - old_count + len(new_rows)


def test_deleted_article_leaves_every_part_of_the_index(cfg, fake):
    build(cfg, fake)
    (cfg.corpus_dir / "003_584b4c232aff98aa.txt").unlink()
    (cfg.corpus_dir / "003_584b4c232aff98aa.meta.json").unlink()
    report = build(cfg, fake)
    assert report.plan.removed == ["003_584b4c232aff98aa"]
    idx = open_index(cfg)
    assert "003_584b4c232aff98aa" not in idx.store.doc_ids()
    assert idx.store.counts()["sentences"] == sum(len(idx.store.sentences(d)) for d in idx.store.doc_ids())
    assert idx.faiss.ntotal == idx.size == idx.store.counts()["passages"]
    assert idx.lexical.num_docs == idx.size
    hits = Retriever(idx, fake).search("Derbyshire Chesterfield Toby Perkins", k=20)
    assert all(h.doc_id != "003_584b4c232aff98aa" for h in hits)
    assert "003_584b4c232aff98aa" not in read_manifest(current_generation(cfg.index_dir))["articles"]


def test_dry_run_changes_nothing(cfg, fake):
    report = build(cfg, fake, dry_run=True)
    assert len(report.plan.added) == 5 and fake.encoded == 0
    assert not (cfg.index_dir / "CURRENT").exists()


def test_failure_midway_keeps_previous_index_and_leaves_no_debris(cfg, fake):
    build(cfg, fake)
    gen = current_generation(cfg.index_dir)
    (cfg.corpus_dir / "new.txt").write_text("Doncaster CCG was rated outstanding again.")

    class Boom(Exception):
        pass

    def exploding():
        class E:
            name, dim = fake.name, fake.dim

            def encode_passages(self, texts, spans, batch_size=32, progress=None):
                raise Boom()

        return E()

    with pytest.raises(Boom):
        sync(cfg, exploding)
    assert current_generation(cfg.index_dir) == gen
    assert not [p for p in cfg.index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert open_index(cfg).store.counts()["articles"] == 5


def test_leftover_temp_folder_is_cleaned_by_next_build(cfg, fake):
    build(cfg, fake)
    (cfg.index_dir / ".tmp-deadbeef").mkdir()
    (cfg.corpus_dir / "new.txt").write_text("Another article about CCG ratings.")
    build(cfg, fake)
    assert not (cfg.index_dir / ".tmp-deadbeef").exists()
    assert len([p for p in cfg.index_dir.iterdir() if p.name.startswith("gen-")]) == 1


def test_second_writer_gets_a_clear_busy_error(cfg, fake):
    from filelock import FileLock

    cfg.index_dir.mkdir()
    with FileLock(str(cfg.index_dir / ".lock")):
        with pytest.raises(IndexBusy, match="another process is writing") as exc:
            build(cfg, fake)
    assert exc.value.fix is Fix.RETRY


def test_other_model_or_settings_are_refused_on_load_and_rebuilt_on_sync(any_cfg, fake):
    build(any_cfg, fake)
    other = replace(any_cfg, chunk=ChunkSettings(max_tokens=60))
    with pytest.raises(IndexIncompatible, match="built with chunk=") as exc:
        open_index(other)
    assert exc.value.fix is Fix.REBUILD
    fake.encoded = 0
    report = build(other, fake)
    assert report.plan.rebuild and fake.encoded == report.passages_total
    open_index(other).close()


@pytest.mark.parametrize(("older", "reason"), [({"encoder_deltas": "0" * 64}, "embedded by another version of qa"),
                                               ({"format": 2}, "built with format=2")])
def test_an_index_embedded_by_an_older_qa_is_rebuilt_by_the_next_sync(cfg, fake, older, reason):
    """A newer qa ships newly fitted encoder deltas (qa.deltas): an index embedded with other ones, or by a qa of an
    older format, is re-embedded on the next sync, not mixed with vectors of the new model."""
    from qa.index import needs_sync

    build(cfg, fake)
    gen = current_generation(cfg.index_dir)
    assert not needs_sync(cfg)
    (gen / "manifest.json").write_text(json.dumps({**read_manifest(gen), **older}))
    assert needs_sync(cfg)
    fake.encoded = 0
    report = build(cfg, fake)
    assert report.plan.rebuild and reason in report.plan.reason
    assert fake.encoded == report.passages_total
    assert not needs_sync(cfg)


def test_newer_format_is_refused(cfg, fake):
    """An index written by a newer qa (with other encoder deltas, say) is refused on load, not overwritten by a sync."""
    from qa.index import needs_sync

    build(cfg, fake)
    gen = current_generation(cfg.index_dir)
    manifest = read_manifest(gen)
    manifest["format"], manifest["encoder_deltas"] = 99, "0" * 64
    (gen / "manifest.json").write_text(json.dumps(manifest))
    assert not needs_sync(cfg)
    with pytest.raises(IndexIncompatible, match="format 99, newer") as exc:
        open_index(cfg)
    assert exc.value.fix is Fix.REBUILD


def test_an_index_reading_words_as_a_newer_qa_does_is_refused_and_a_reader_machine_searches_an_older_one(cfg, fake):
    """A newer qa's BM25 (tokens version) is refused on load, not re-read the older way; one of an older qa's reading is
    outdated for the writer (a sync re-reads it) but not for a machine that only reads a shared index."""
    from qa.index import needs_sync, outdated

    build(cfg, fake)
    gen = current_generation(cfg.index_dir)
    manifest = read_manifest(gen)
    assert not outdated(cfg, {**manifest, "tokens": 0}, words=False) and outdated(cfg, {**manifest, "tokens": 0})
    (gen / "manifest.json").write_text(json.dumps({**manifest, "tokens": 99}))
    assert not needs_sync(cfg)
    with pytest.raises(IndexIncompatible, match="reads words as a newer qa"):
        open_index(cfg)


@pytest.mark.parametrize(
    ("damage", "says"),
    [("truncate_faiss", "is damaged"), ("drop_ids", "is inconsistent"), ("delete_bm25", "is damaged"), ("bad_pointer", "names gen-missing, which is missing")],
)
def test_damaged_index_is_detected_on_load(cfg, fake, damage, says):
    build(cfg, fake)
    gen = current_generation(cfg.index_dir)
    if damage == "truncate_faiss":
        data = (gen / "faiss.index").read_bytes()
        (gen / "faiss.index").write_bytes(data[: len(data) // 2])
    elif damage == "drop_ids":
        ids = np.load(gen / "ids.npy")
        np.save(gen / "ids.npy", ids[:-1])
    elif damage == "delete_bm25":
        for p in (gen / "bm25").iterdir():
            p.unlink()
    else:
        (cfg.index_dir / "CURRENT").write_text("gen-missing\n")
    with pytest.raises(IndexCorrupt, match=says) as exc:
        open_index(cfg)
    assert exc.value.fix is Fix.REBUILD


def test_staleness_follows_corpus_files(cfg, fake):
    build(cfg, fake)
    manifest = read_manifest(current_generation(cfg.index_dir))
    assert not is_stale(cfg, manifest)
    path = cfg.corpus_dir / "000_d6ad861f9de5a9c7.meta.json"
    path.write_text(path.read_text().replace("2016", "2016-07"))
    assert is_stale(cfg, manifest)
    report = build(cfg, fake)
    assert report.plan.updated == ["000_d6ad861f9de5a9c7"]
    assert open_index(cfg).store.article("000_d6ad861f9de5a9c7").date == "2016-07"


def test_no_pickles_in_the_index(cfg, fake):
    build(cfg, fake)
    for path in Path(cfg.index_dir).rglob("*"):
        if path.is_file() and path.suffix == ".npy":
            np.load(path, allow_pickle=False)
        if path.is_file():
            assert not path.read_bytes().startswith(b"\x80"), path


def test_disk_full_while_writing_is_a_clear_error_and_keeps_the_previous_index(cfg, fake, monkeypatch):
    import errno

    from qa.errors import IndexWriteError

    build(cfg, fake)
    gen = current_generation(cfg.index_dir)
    (cfg.corpus_dir / "new.txt").write_text("Bassetlaw CCG was rated good for the first time.")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    with pytest.raises(IndexWriteError, match="No space left on device.*previous index is unchanged") as exc:
        build(cfg, fake)
    assert exc.value.fix is Fix.PERMISSIONS
    monkeypatch.undo()
    assert current_generation(cfg.index_dir) == gen
    assert not [p for p in cfg.index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert open_index(cfg).store.counts()["articles"] == 5


def test_a_large_index_uses_hnsw_and_finds_what_exact_search_finds(any_cfg, fake, monkeypatch):
    import qa.index
    import qa.milvus.client

    for module in (qa.index, qa.milvus.client):  # the seed corpus stands in for a big one
        monkeypatch.setattr(module, "HNSW_THRESHOLD", 10)
    build(any_cfg, fake)
    idx = open_index(any_cfg)
    try:
        assert idx.manifest["faiss"] == "hnsw"
        if any_cfg.backend == "local":
            import faiss

            assert hasattr(faiss.downcast_index(idx.faiss.index), "hnsw")
        else:
            assert idx.hnsw and idx.db.client.describe_index(idx.names.passages, "vector")["index_type"] == "HNSW"
        rows = list(idx.store.iter_passages())
        vectors, _ = fake.encode_passages([r.text for r in rows], [[] for _ in rows])
        retriever = Retriever(idx, fake)
        for query in ("North Derbyshire savings", "Cambridgeshire chief officer", "percentage rated good"):
            exact_top = rows[int(np.argmax(vectors @ fake.encode_queries([query])[0]))].id
            dense = retriever.dense_scores(query, k=5)
            assert max(dense, key=dense.get) == exact_top
    finally:
        idx.close()


def test_a_reader_that_loses_a_race_with_a_writer_opens_the_new_generation(cfg, fake, monkeypatch):
    import qa.generation

    build(cfg, fake)
    old = current_generation(cfg.index_dir)
    (cfg.corpus_dir / "new.txt").write_text("Bassetlaw CCG was rated good for the first time.")
    build(cfg, fake)  # publishes a new generation and removes the old one
    answers = iter([old])  # the reader read CURRENT just before the switch
    real = qa.generation.current_generation
    monkeypatch.setattr(qa.generation, "current_generation", lambda d: next(answers, None) or real(d))
    idx = open_index(cfg)
    assert idx.store.counts()["articles"] == 6


def test_idf_follows_the_bm25_formula_from_document_frequencies():
    texts = [
        "Hull CCG was rated good.",
        "Hull CCG was rated inadequate; Hull's officers resigned.",
        "Doncaster CCG was rated outstanding.",
        "Savings were made in North Derbyshire.",
    ]
    lex = Lexical.build(texts)
    docs = [set(tokenize(t)) for t in texts]
    n = len(texts)
    for token in set().union(*docs):
        df = sum(token in d for d in docs)
        assert lex.idf(token) == pytest.approx(np.log(1 + (n - df + 0.5) / (df + 0.5)), rel=1e-12), token
    assert lex.idf(tokenize("Hull")[0]) > lex.idf(tokenize("CCG")[0]) > 0
    assert lex.idf("absent") == 0.0
    assert lex.num_docs == n


def test_idf_and_document_count_survive_save_and_load(tmp_path):
    texts = ["Hull CCG was rated good.", "Doncaster CCG was rated outstanding.", "Savings in Derbyshire."]
    built = Lexical.build(texts)
    built.save(tmp_path / "bm25")
    loaded = Lexical.load(tmp_path / "bm25")
    assert loaded.num_docs == 3
    assert {t: loaded.idf(t) for t in built.vocab if t} == {t: built.idf(t) for t in built.vocab if t}


@pytest.mark.parametrize("hnsw", [False, True])
def test_left_out_articles_are_left_out_of_the_search_itself(cfg, fake, monkeypatch, hnsw):
    """A narrow filter still gets its nearest passages: the rest are excluded inside FAISS, not after its top k."""
    import qa.index

    if hnsw:
        monkeypatch.setattr(qa.index, "HNSW_THRESHOLD", 10)
    build(cfg, fake)
    retriever = Retriever(open_index(cfg), fake, pool=2)  # a pool far smaller than the corpus
    docs = sorted({d for d in retriever.row_docs})
    keep = docs[-1]
    for mode in ("dense", "hybrid"):
        hits = retriever.search("North Derbyshire savings", k=3, mode=mode, skip_docs=frozenset(docs[:-1]))
        assert len(hits) == 3 and {h.doc_id for h in hits} == {keep}, mode
