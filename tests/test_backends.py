"""The same index behaviour on both backends (the index folder and a milvus-lite server), on the fake embedder;
then what only the Milvus backend has: its alias, its lock, a server that is down, a build killed by SIGKILL."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import grpc
import pytest

from qa.config import Config
from qa.errors import BackendUnavailable, Fix, IndexBusy, IndexMissing
from qa.index import sync
from qa.messages import cli_error
from qa.retrieve import Retriever, open_index
from qa.session import open_session
from qa.testing import HashingEmbedder
from tests.conftest import NORTH_DERBYSHIRE, milvus_config

CHANGED = "004_9f3181c418ccf80d"
QUESTIONS = [
    "North Derbyshire savings legal directions",
    "Who is the accountable officer?",
    "Which CCG was rated inadequate?",
    "How much money must be saved?",
    "Toby Perkins Chesterfield",
]


def build(cfg, embedder, **kw):
    return sync(cfg, lambda: embedder, **kw)


def passages_of(idx, doc_id):
    return [p for p in idx.store.iter_passages() if p.doc_id == doc_id]


def test_first_build_stores_every_article_passage_and_sentence(any_cfg, fake):
    report = build(any_cfg, fake)
    idx = open_index(any_cfg)
    try:
        counts = idx.store.counts()
        assert counts["articles"] == 5 and fake.encoded == idx.size == report.passages_total == counts["passages"] > 5
        assert counts["sentences"] == sum(len(idx.store.sentences(d)) for d in idx.store.doc_ids())
        for row in idx.store.iter_passages():
            assert idx.store.article(row.doc_id).text[row.start:row.end] == row.text
        retriever = Retriever(idx, fake)
        first = next(iter(idx.store.iter_passages()))
        assert retriever.sentence_vectors(first.id).shape == (first.last_sentence - first.first_sentence, fake.dim)
    finally:
        idx.close()


def test_an_incremental_sync_reembeds_the_changed_article_alone_and_drops_the_removed(any_cfg, fake):
    build(any_cfg, fake)
    fake.encoded = 0
    assert not build(any_cfg, fake).plan.changed and fake.encoded == 0
    path = any_cfg.corpus_dir / f"{CHANGED}.txt"
    path.write_text(path.read_text() + "\nA new closing paragraph about Hull CCG funding.\n")
    (any_cfg.corpus_dir / f"{NORTH_DERBYSHIRE}.txt").unlink()
    (any_cfg.corpus_dir / f"{NORTH_DERBYSHIRE}.meta.json").unlink()
    report = build(any_cfg, fake)
    assert report.plan.updated == [CHANGED] and report.plan.removed == [NORTH_DERBYSHIRE]
    idx = open_index(any_cfg)
    try:
        new_rows = passages_of(idx, CHANGED)
        assert fake.encoded == len(new_rows) == report.passages_embedded
        assert any("Hull CCG funding" in p.text for p in new_rows)
        assert NORTH_DERBYSHIRE not in idx.store.doc_ids() and NORTH_DERBYSHIRE not in idx.manifest["articles"]
        assert idx.lexical.num_docs == idx.size == idx.store.counts()["passages"]
        hits = Retriever(idx, fake).search("Derbyshire Chesterfield Toby Perkins", k=20)
        assert hits and all(h.doc_id != NORTH_DERBYSHIRE for h in hits)
    finally:
        idx.close()


def test_dry_run_and_rebuild(any_cfg, fake):
    assert len(build(any_cfg, fake, dry_run=True).plan.added) == 5 and fake.encoded == 0
    with pytest.raises(IndexMissing):
        open_index(any_cfg)
    build(any_cfg, fake)
    fake.encoded = 0
    report = build(any_cfg, fake, rebuild=True)
    assert report.plan.rebuild and fake.encoded == report.passages_total > 0


def test_staleness_follows_corpus_files(any_cfg, fake):
    build(any_cfg, fake)
    with open_session(any_cfg, sync="never", embedder=fake) as session:
        assert not session.stale()
        path = any_cfg.corpus_dir / "000_d6ad861f9de5a9c7.meta.json"
        path.write_text(path.read_text().replace("2016", "2016-07"))
        assert session.stale()
    with open_session(any_cfg, embedder=fake) as session:
        assert session.report.plan.updated == ["000_d6ad861f9de5a9c7"]
        assert session.article("000_d6ad861f9de5a9c7").date == "2016-07"


def test_a_failed_build_keeps_the_previous_index_answering(any_cfg, fake):
    build(any_cfg, fake)
    (any_cfg.corpus_dir / "new.txt").write_text("Doncaster CCG was rated outstanding again.")

    class Boom(Exception):
        pass

    class Exploding:
        name, dim = fake.name, fake.dim

        def encode_passages(self, *args, **kwargs):
            raise Boom()

    with pytest.raises(Boom):
        sync(any_cfg, Exploding)
    idx = open_index(any_cfg)
    try:
        assert idx.store.counts()["articles"] == 5
        assert Retriever(idx, fake).search(QUESTIONS[0], k=1)[0].doc_id == NORTH_DERBYSHIRE
    finally:
        idx.close()


def test_left_out_articles_are_left_out_of_the_search_itself(any_cfg, fake):
    build(any_cfg, fake)
    idx = open_index(any_cfg)
    try:
        retriever = Retriever(idx, fake, pool=2)  # a pool far smaller than the corpus
        docs = sorted(idx.store.doc_ids())
        for mode in ("dense", "hybrid", "bm25"):
            hits = retriever.search("North Derbyshire savings CCG", k=3, mode=mode, skip_docs=frozenset(docs[:-1]))
            assert hits and {h.doc_id for h in hits} == {docs[-1]}, mode
    finally:
        idx.close()


def test_milvus_ranks_and_answers_as_the_local_index_does(cfg, fake, milvus_uri):
    """The same passages, scores (BM25 included) and answers from both backends over the same corpus."""
    remote = milvus_config(cfg, milvus_uri)
    build(cfg, fake)
    build(remote, fake)
    with open_session(cfg, sync="never", embedder=fake) as here, open_session(remote, sync="never", embedder=fake) as there:
        for q in QUESTIONS:
            for mode in ("hybrid", "bm25", "dense"):
                a, b = here.retriever.search(q, k=10, mode=mode), there.retriever.search(q, k=10, mode=mode)
                assert ranked(a) == ranked(b), (q, mode)
            assert said(here.engine.ask(q)) == said(there.engine.ask(q)), q
        assert here.listing() == there.listing() and here.counts() == there.counts()
        near, far = here.retriever.index.lexical, there.retriever.index.lexical
        assert {t: near.df(t) for t in near.vocab if t} == {t: far.df(t) for t in far.vocab if t}  # bm25s adds ""


def ranked(hits) -> list[tuple]:
    """Each hit's scores and passage, best first, equal scores in passage order (the backends break ties apart)."""
    return sorted(((-round(h.score, 4), round(h.dense, 4), round(h.bm25, 4), h.passage) for h in hits),
                  key=lambda t: (t[0], t[3].id))


def said(answer) -> tuple:
    """What a user reads of an answer: its kind, text, citations and confidence (not its timings)."""
    return (answer.kind, answer.answer, [(c.doc_id, c.start, c.end) for c in answer.citations], round(answer.confidence, 3))


# --- the Milvus backend alone -------------------------------------------------------------------

def test_a_server_that_is_down_is_a_one_line_error_naming_it(cfg, fake):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    down = replace(cfg, backend=f"http://127.0.0.1:{port}")
    for action in (lambda: build(down, fake), lambda: open_index(down)):
        with pytest.raises(BackendUnavailable) as exc:
            action()
        message = cli_error(exc.value)
        assert f"http://127.0.0.1:{port}" in message and "\n" not in message and exc.value.fix is Fix.SERVER


class RefusedCall(grpc.RpcError):
    """A call the server refused, as grpc raises it (status code and details)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def wrapped(inner: BaseException) -> BaseException:
    """pymilvus's MilvusException raised from a gRPC error, as its connect step does."""
    from pymilvus.exceptions import MilvusException

    try:
        raise MilvusException(code=2, message="Fail connecting to server on milvus.example:19530") from inner
    except MilvusException as exc:
        return exc


@pytest.mark.parametrize("error", [
    RefusedCall(grpc.StatusCode.UNAUTHENTICATED, "auth check failure, please check username and password"),
    wrapped(RefusedCall(grpc.StatusCode.UNAUTHENTICATED, "invalid token")),  # refused while connecting
], ids=["call", "connect"])
def test_a_refused_token_is_a_one_line_error_naming_the_server_and_the_token(error):
    """milvus-lite checks no token, so the server's refusal is raised as grpc raises it, then translated."""
    from qa.milvus.client import _Translate

    with pytest.raises(BackendUnavailable) as exc:
        with _Translate("http://milvus.example:19530", "connect to"):
            raise error
    message = cli_error(exc.value)
    assert message.startswith("the Milvus server at http://milvus.example:19530 refused the token")
    assert exc.value.fix is Fix.TOKEN and "QA_MILVUS_TOKEN" in message and "\n" not in message


def test_a_server_that_is_merely_unreachable_is_not_blamed_on_the_token():
    from qa.milvus.client import _Translate

    with pytest.raises(BackendUnavailable) as exc:
        with _Translate("http://milvus.example:19530", "connect to"):
            raise wrapped(RefusedCall(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses"))
    assert exc.value.fix is Fix.SERVER and "refused the token" not in str(exc.value)

def test_a_second_writer_is_refused_with_a_clear_message(cfg, fake, milvus_uri):
    from qa.milvus.client import Milvus
    from qa.milvus.sync import writer_lock

    remote = milvus_config(cfg, milvus_uri)
    db = Milvus(remote)
    try:
        with writer_lock(db, 0):
            with pytest.raises(IndexBusy, match=f"another process \\(pid {os.getpid()} .*writing the index on {milvus_uri}"):
                build(remote, fake)
        assert build(remote, fake).passages_total > 0  # released
    finally:
        db.close()


def test_a_second_machine_with_only_the_uri_answers_from_the_server(cfg, fake, milvus_uri, monkeypatch, tmp_path):
    """qa ask, search, status and eval from folders with no corpus, or an empty one: the server's index answers."""
    import json

    import qa.embed
    from click.testing import CliRunner

    from qa.cli import main

    remote = milvus_config(cfg, milvus_uri)
    build(remote, fake)
    question = "Why was North Derbyshire rated inadequate?"
    with open_session(remote, sync="never", embedder=fake) as first:
        expected, counts = said(first.engine.ask(question)), first.counts()
    monkeypatch.setattr(qa.embed, "get_embedder", lambda model: HashingEmbedder())
    monkeypatch.setenv("QA_BACKEND", milvus_uri)
    monkeypatch.setenv("QA_MILVUS_PREFIX", remote.milvus_prefix)
    (tmp_path / "empty").mkdir()
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "nd", "question": question, "doc_ids": ["003_584b4c232aff98aa"]}) + "\n")
    for corpus in (tmp_path / "none", tmp_path / "empty"):
        run = lambda *args: CliRunner().invoke(main, [*args, "--corpus", str(corpus)])  # noqa: E731
        asked = run("ask", question, "--json")
        assert asked.exit_code == 0, asked.output
        payload = json.loads(asked.stdout)
        assert [(c["doc_id"], c["start"], c["end"]) for c in payload["citations"]] == expected[2]
        found = run("search", "North Derbyshire savings", "--json")
        assert found.exit_code == 0 and json.loads(found.stdout), found.output
        status = run("status")
        assert status.exit_code == 0 and "stale       no" in status.output and "server's index" in status.output, status.output
        assert json.loads(run("status", "--json").stdout)["reads_only"] is True
        scored = run("eval", str(questions), "--json")
        assert scored.exit_code == 0 and json.loads(scored.stdout)["n"] == 1, scored.output
        refused = run("index")  # building still needs the articles, and leaves the server's index as it was
        assert refused.exit_code == 1 and "error: " in refused.output
        story = tmp_path / "story.txt"
        story.write_text("Leeds CCG rated good\n\nLeeds clinical commissioning group has been rated good this year.\n")
        added = run("add", str(story))  # only the new article would be left in the shared index: refused
        assert added.exit_code == 1 and "would remove them" in added.output and "machine that holds the articles" in added.output
        assert not (corpus / "story.txt").exists()
    monkeypatch.setattr("qa.index.digest_for", lambda model: "f" * 64)  # this qa ships other encoder deltas than the writer's
    other = CliRunner().invoke(main, ["ask", question, "--corpus", str(tmp_path / "none")])
    assert other.exit_code == 1 and "embedded by another version of qa" in other.output, other.output
    assert "run the same version of qa here as on the machine that holds the articles" in other.output
    monkeypatch.setenv("QA_MILVUS_PREFIX", "nosuchindex")
    missing = CliRunner().invoke(main, ["ask", question, "--corpus", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "no index named nosuchindex" in missing.output and "QA_MILVUS_PREFIX" in missing.output
    with open_session(remote, sync="never", embedder=fake) as after:
        assert after.counts() == counts


HARNESS = (
    "import sys; from qa import embed; from qa.config import Config; from qa.testing import HashingEmbedder; "
    "embed._CACHE[Config.from_env().model] = HashingEmbedder(); "
    "from qa.cli import main; main(sys.argv[1:])"
)


def run_qa(cfg: Config, *args: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "QA_CORPUS": str(cfg.corpus_dir), "QA_BACKEND": cfg.backend, "QA_MILVUS_PREFIX": cfg.milvus_prefix}
    env.pop("QA_KILL_AT", None)
    if kill_at:
        env["QA_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-c", HARNESS, *args], env=env, capture_output=True, text=True, timeout=180)


def test_the_cli_names_the_server_when_it_is_down(cfg):
    down = replace(cfg, backend="http://127.0.0.1:9", milvus_prefix="qa")
    result = run_qa(down, "status")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "http://127.0.0.1:9" in lines[0] and "QA_MILVUS_TOKEN" in lines[0]


def test_an_index_that_reads_words_as_an_older_qa_did_gets_its_bm25_rebuilt_without_embedding(any_cfg, fake, monkeypatch):
    import qa.index
    import qa.lexical
    import qa.milvus.terms
    from qa.generation import TOKENS_VERSION
    from qa.index import needs_sync

    real = qa.lexical.tokenize

    def older(text: str, keep_stopwords: bool = False) -> list[str]:  # before tokens version 1: "CCGs" was "ccgs"
        return real(text.replace("CCGs", "Ccgs"), keep_stopwords)

    with monkeypatch.context() as m:
        m.setattr(qa.lexical, "tokenize", older)
        m.setattr(qa.milvus.terms, "tokenize", older)
        m.setattr(qa.index, "TOKENS_VERSION", 0)
        build(any_cfg, fake)
    idx = open_index(any_cfg)
    try:
        assert "ccgs" in idx.lexical.vocab and idx.manifest["tokens"] == 0
        holding = idx.lexical.df("ccg")
    finally:
        idx.close()
    assert needs_sync(any_cfg)  # what `qa ask`, `make run` and the chat check before answering
    assert "words re-read" in build(any_cfg, fake, dry_run=True).plan.summary()
    fake.encoded = 0
    report = build(any_cfg, fake)
    assert report.plan.retokenize and not report.plan.rebuild and fake.encoded == 0 == report.passages_embedded
    idx = open_index(any_cfg)
    try:
        assert "ccgs" not in idx.lexical.vocab and idx.manifest["tokens"] == TOKENS_VERSION
        assert idx.lexical.df("ccg") > holding  # the passages saying only "CCGs" now hold "ccg" too
        assert idx.lexical.num_docs == idx.size == report.passages_total
    finally:
        idx.close()
    assert not needs_sync(any_cfg) and not build(any_cfg, fake).plan.changed
