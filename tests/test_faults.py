"""Faults: `qa index` killed by SIGKILL at every stage of a build, and files or folders the user can't access."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import pytest

from qa.config import Config
from qa.corpus import scan_corpus
from qa.errors import QAError
from qa.faults import POINTS
from qa.index import current_generation, sync
from qa.retrieve import Retriever, open_index
from qa.testing import HashingEmbedder
from tests.conftest import NORTH_DERBYSHIRE, SEED_CORPUS, live_generation, milvus_config

NEW_ARTICLE = "Bassetlaw CCG was rated outstanding for a third year. Its accountable officer thanked the staff.\n"

# `qa index` in a child process, embedding with the deterministic fake so each run takes a second
HARNESS = (
    "import sys; from qa import embed; from qa.config import Config; from qa.testing import HashingEmbedder; "
    "embed._CACHE[Config.from_env().model] = HashingEmbedder(); "
    "from qa.cli import main; main(sys.argv[1:])"
)


def run_qa(cfg: Config, *args: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "QA_CORPUS": str(cfg.corpus_dir), "QA_INDEX": str(cfg.index_dir), "QA_BACKEND": cfg.backend,
           "QA_MILVUS_PREFIX": cfg.milvus_prefix}
    env.pop("QA_KILL_AT", None)
    if kill_at:
        env["QA_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-c", HARNESS, *args], env=env, capture_output=True, text=True, timeout=180)


def run_qa_index(cfg: Config, kill_at: str | None = None) -> subprocess.CompletedProcess:
    return run_qa(cfg, "index", kill_at=kill_at)


def answers_about_north_derbyshire(cfg: Config) -> bool:
    idx = open_index(cfg)
    try:
        hits = Retriever(idx, HashingEmbedder()).search("North Derbyshire savings legal directions", k=1)
        return bool(hits) and hits[0].doc_id == NORTH_DERBYSHIRE
    finally:
        idx.close()


def leftovers(index_dir: Path) -> list[str]:
    live = current_generation(index_dir)
    return sorted(
        p.name for p in index_dir.iterdir()
        if p.name.startswith((".tmp-", ".CURRENT.")) or (p.name.startswith("gen-") and p != live)
    )


def milvus_leftovers(cfg: Config) -> list[str]:
    """Collections of cfg's prefix on the server beyond the live generation and the one before it (kept for
    readers that opened it), and lock collections of writers that are gone."""
    from qa.milvus.client import Milvus, Names

    db = Milvus(cfg)
    try:
        gens = sorted(db.generations())
        live = db.live()
        keep = {live, max([g for g in gens if g < live], default=None)}
        mine = {n for g in keep if g for n in Names(cfg.milvus_prefix, g).all()}
        return sorted(n for n in db.client.list_collections() if n.startswith(cfg.milvus_prefix + "_") and n not in mine)
    finally:
        db.close()


MILVUS_POINTS = ("locked", "embedded", "written", "switched")  # the Milvus build has no folder to rename
KILLS = [("local", p) for p in POINTS] + [("milvus", p) for p in MILVUS_POINTS]


@pytest.mark.parametrize(("backend", "point"), KILLS)
def test_sigkill_at_each_stage_leaves_an_index_that_answers_and_the_next_build_completes(request, cfg, backend, point):
    if backend == "milvus":
        cfg = milvus_config(cfg, request.getfixturevalue("milvus_uri"))
    sync(cfg, HashingEmbedder)
    before = live_generation(cfg)
    (cfg.corpus_dir / "bassetlaw.txt").write_text(NEW_ARTICLE, encoding="utf-8")

    killed = run_qa_index(cfg, kill_at=point)
    assert killed.returncode == -9, killed.stderr

    if point == "switched":  # killed after the switch: the new index is live and whole
        assert live_generation(cfg) != before
    else:
        assert live_generation(cfg) == before
    assert answers_about_north_derbyshire(cfg)

    done = run_qa_index(cfg)  # a dead writer's lock is taken over, its debris dropped
    assert done.returncode == 0, done.stderr
    idx = open_index(cfg)
    try:
        assert idx.store.counts()["articles"] == 6
    finally:
        idx.close()
    assert answers_about_north_derbyshire(cfg)
    assert (leftovers(cfg.index_dir) if backend == "local" else milvus_leftovers(cfg)) == []
    if backend == "milvus":
        status = run_qa(cfg, "status")
        assert status.returncode == 0 and "articles    6" in status.stdout and cfg.where in status.stdout


def as_other_user(work) -> dict:
    """Run work() in a forked child as user nobody (so file permissions apply even to root); its JSON result."""
    if os.geteuid() != 0:
        return work()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                out = work()
            except QAError as exc:
                out = {"error": str(exc)}
            except BaseException:
                out = {"crash": traceback.format_exc()}
            os.write(write, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.fixture
def shared_dir():
    """A world-readable folder (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="qa-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_an_unreadable_article_is_skipped_with_a_warning_and_the_rest_index(shared_dir):
    corpus = shared_dir / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    secret = corpus / "secret.txt"
    secret.write_text("Nobody may read this article about Bassetlaw CCG.", encoding="utf-8")
    secret.chmod(0o000)

    def work() -> dict:
        scan = scan_corpus(corpus, 5_000_000)
        return {"articles": len(scan.articles), "warnings": scan.warnings}

    out = as_other_user(work)
    assert out.get("articles") == 5, out
    assert [w for w in out["warnings"] if "secret.txt" in w and "cannot read" in w and "Permission denied" in w]


def test_an_index_folder_without_write_permission_is_a_clear_error_and_the_index_is_kept(shared_dir):
    corpus = shared_dir / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    cfg = Config(corpus_dir=corpus, index_dir=shared_dir / "index")
    sync(cfg, HashingEmbedder)
    before = current_generation(cfg.index_dir)
    if os.geteuid() != 0:
        cfg.index_dir.chmod(0o555)
    (corpus / "bassetlaw.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    (corpus / "bassetlaw.txt").chmod(0o644)

    out = as_other_user(lambda: {"result": sync(cfg, HashingEmbedder).generation})
    cfg.index_dir.chmod(0o755)
    assert "crash" not in out, out.get("crash")
    assert "error" in out, out
    assert "\n" not in out["error"] and "permission" in out["error"].lower()
    assert current_generation(cfg.index_dir) == before
    assert answers_about_north_derbyshire(cfg)
