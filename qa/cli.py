"""The `qa` command line: turns core results into output and core errors into one-line messages."""

from __future__ import annotations

import functools
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import click

from qa.config import RETRIEVERS, Config, cache_root
from qa.errors import EvalError, Fix, QAError
from qa.messages import CLI_REMEDY, READ_ONLY, cli_error, offsets

if TYPE_CHECKING:
    from qa.index import SyncReport
    from qa.session import Session

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def warn(message: str) -> None:
    """Print a one-line warning on stderr (article-derived text is never read as markup)."""
    from rich.text import Text

    _console(stderr=True).print(Text.assemble(("warning: ", "yellow"), message), soft_wrap=True)


def emit(*items: object) -> None:
    """Print renderables on stdout: styled on a terminal; piped, plain text without trailing spaces."""
    out = _console()
    if out.is_terminal:
        for item in items:
            out.print(item)
        return
    with out.capture() as captured:
        for item in items:
            out.print(item)
    for line in captured.get().splitlines():
        click.echo(line.rstrip())


def fail(message: str, code: int = 1) -> None:
    from rich.text import Text

    _console(stderr=True).print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    sys.exit(code)


def common_options(func: Callable) -> Callable:
    """--corpus and --index on every command; builds the Config passed as `cfg`."""

    @click.option("--corpus", "corpus_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Folder of articles [env QA_CORPUS; default ./corpus]")
    @click.option("--index", "index_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Index folder [env QA_INDEX; default ./index]")
    @click.option("--backend", default=None, metavar="local|URI",
                  help="Where the index lives: `local` (the index folder) or a Milvus server, http://host:19530 "
                       "[env QA_BACKEND; token in QA_MILVUS_TOKEN]")
    @functools.wraps(func)
    def wrapper(*args, corpus_dir: Path | None, index_dir: Path | None, backend: str | None, **kwargs):
        cfg = Config.from_env(corpus_dir=corpus_dir, index_dir=index_dir, backend=backend)
        try:
            return func(*args, cfg=cfg, **kwargs)
        except QAError as exc:
            fail(cli_error(exc), 2 if isinstance(exc, EvalError) else 1)  # a bad question set: as bad usage
        except KeyboardInterrupt:
            fail("interrupted; the previous index is left as it was", 130)

    return wrapper


@click.group(invoke_without_command=True, context_settings=CONTEXT)
@click.version_option(package_name="qa")
@click.pass_context
def main(ctx: click.Context) -> None:
    """qa: ask questions of a folder of news articles; answers quote the articles, with citations.

    Run `qa chat` (or just `qa`) for the chat, `qa ask "question"` for one answer.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(chat)


# --- index -----------------------------------------------------------------------------------

@contextmanager
def embedding_progress(quiet: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A progress callback for embedding: a bar on stderr, shown from the first passage embedded."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("embedding passages"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=_console(stderr=True), transient=True, disable=quiet)
    task = None

    def progress(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("embed", total=None)
        bar.update(task, completed=done, total=total)

    try:
        yield progress
    finally:
        if task is not None:
            bar.stop()


def run_sync(cfg: Config, rebuild: bool = False, dry_run: bool = False, quiet: bool = False) -> SyncReport:
    """Sync the index with a progress bar on stderr; print warnings; return the report."""
    from qa.embed import get_embedder
    from qa.index import sync

    with embedding_progress(quiet) as progress:
        report = sync(cfg, lambda: get_embedder(cfg.model), rebuild=rebuild, dry_run=dry_run, progress=progress, lock_wait=0.5)
    for message in report.warnings:
        warn(message)
    return report


@main.command(context_settings=CONTEXT)
@click.option("--rebuild", is_flag=True, help="Start over: re-embed every article.")
@click.option("--dry-run", is_flag=True, help="Print what would change, change nothing.")
@common_options
def index(cfg: Config, rebuild: bool, dry_run: bool) -> None:
    """Sync the index with the corpus: embed new and changed articles, drop removed ones.

    Example: qa index --corpus ~/articles --index ~/articles-index
    """
    report = run_sync(cfg, rebuild=rebuild, dry_run=dry_run)
    plan = report.plan
    if dry_run:
        click.echo(f"would sync {cfg.corpus_dir} -> {cfg.where}: {plan.summary()}" + (f" (full build: {plan.reason})" if plan.rebuild else ""))
        for label, ids in (("add", plan.added), ("update", plan.updated), ("remove", plan.removed)):
            for doc_id in ids:
                click.echo(f"  {label:<7}{doc_id}")
        return
    if not plan.changed:
        click.echo(f"index is up to date: {len(plan.unchanged)} articles, {report.passages_total} passages")
        return
    click.echo(
        f"indexed {cfg.corpus_dir} -> {cfg.where}: {plan.summary()}; "
        f"{report.passages_embedded} passages embedded, {report.passages_total} in all ({report.seconds:.1f} s)"
    )


def open_ready(cfg: Config) -> Session:
    """The session over cfg's index, built or synced first when missing or stale (progress and warnings on stderr)."""
    from qa.session import open_session

    with embedding_progress() as progress:
        session = open_session(cfg, progress=progress, lock_wait=0.5)
    if session.report is not None:
        for message in session.warnings:
            warn(message)
        if session.report.plan.changed:
            _console(stderr=True).print(f"index synced: {session.report.plan.summary()}", style="dim")
    return session


def date_options(func: Callable) -> Callable:
    """--since and --until: only articles dated in that range (a year, a year-month or a date)."""
    func = click.option("--until", "until", default=None, metavar="DATE", help="Only articles dated up to DATE (2019, 2019-07, 2019-07-12).")(func)
    return click.option("--since", "since", default=None, metavar="DATE", help="Only articles dated from DATE on.")(func)


def date_range(since: str | None, until: str | None):
    """The DateRange the options give (DateError, a one-line error, when one is malformed)."""
    from qa.dates import DateRange, parse_bound

    return DateRange(since and parse_bound(since, "--since"), until and parse_bound(until, "--until"))


# --- search ----------------------------------------------------------------------------------

@main.command(context_settings=CONTEXT)
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(1, 1000), default=5, show_default=True, help="How many passages.")
@click.option("--retriever", type=click.Choice(RETRIEVERS), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@date_options
@common_options
def search(cfg: Config, query: str, k: int, retriever: str, as_json: bool, since: str | None, until: str | None) -> None:
    """List the passages that best match QUERY (BM25 and dense scores fused).

    Example: qa search "North Derbyshire savings" -k 3 --since 2017
    """
    dates = date_range(since, until)
    query = _check_question(query, cfg)
    with open_ready(cfg) as session:
        found = session.engine.search(query, k=k, mode=retriever, dates=dates)  # copies of one story folded into it
        hits, copies = found.hits, found.copies
        titles = {h.doc_id: session.article(h.doc_id).title for h in hits + [c for cs in copies.values() for c in cs]}
    if as_json:
        rows = [{"rank": rank, "doc_id": h.doc_id, "title": titles[h.doc_id], "start": h.passage.start,
                 "end": h.passage.end, "score": round(h.score, 4), "dense": round(h.dense, 4),
                 "bm25": round(h.bm25, 4), "text": h.passage.text,
                 "also_in": [{"doc_id": c.doc_id, "title": titles[c.doc_id], "start": c.passage.start,
                              "end": c.passage.end} for c in copies.get(h.passage.id, ())]}
                for rank, h in enumerate(hits, 1)]
        click.echo(json.dumps({"query": query, "results": rows}, ensure_ascii=False, indent=1))
        return
    _print_hits(hits, titles, copies)


def _print_hits(hits: list, titles: dict[str, str], copies: dict) -> None:
    from rich.text import Text

    from qa.render import also_in_line, snippet

    if not hits:
        click.echo("no passages match")
    items: list = []
    for rank, h in enumerate(hits, 1):
        items.append(Text.assemble((f"{rank}. ", "bold"), (titles[h.doc_id], "bold cyan"), (f"  {offsets(h.passage)}", "dim"),
                                   (f"  score {h.score:.3f} (dense {h.dense:.3f}, bm25 {h.bm25:.2f})", "dim")))
        items.append(Text(snippet(h.passage.text, 400)))
        folded = copies.get(h.passage.id, ())
        if folded:
            items.append(also_in_line([(titles[c.doc_id], "", c.doc_id, c.passage.start, c.passage.end) for c in folded]))
        items.append(Text())
    emit(*items)


def _check_question(query: str, cfg: Config) -> str:
    """The engine's own question check, reported as a usage error (exit status 2)."""
    from qa.answer import normalise_question
    from qa.errors import QuestionError

    try:
        return normalise_question(query, cfg.max_question_chars)
    except QuestionError as exc:
        raise click.UsageError(str(exc)) from None


# --- status ----------------------------------------------------------------------------------

@main.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def status(cfg: Config, as_json: bool) -> None:
    """Show what the index holds: articles, passages, model, size, and whether it is stale."""
    from qa.corpus import fingerprint, require_corpus_dir
    from qa.index import outdated, reads_only

    if not cfg.milvus:  # a machine with only the URI of a Milvus index reads it as it is
        require_corpus_dir(cfg.corpus_dir)
    empty = "" if cfg.corpus_dir.is_dir() and fingerprint(cfg.corpus_dir) else f"no articles in {cfg.corpus_dir}: {CLI_REMEDY[Fix.ADD]}"  # qa index would refuse
    gen, manifest, size = _live_index(cfg)
    if gen is None:
        info = {"index": cfg.where, "built": False, "corpus": str(cfg.corpus_dir)}
        if as_json:
            click.echo(json.dumps(info))
        else:
            click.echo(f"no index in {cfg.where}: {empty or CLI_REMEDY[Fix.INDEX] + ' to build it from ' + str(cfg.corpus_dir)}")
        return
    info = {
        "index": cfg.where, "built": True, "corpus": str(cfg.corpus_dir),
        "articles": len(manifest.get("articles", {})), "passages": manifest.get("passages"),
        "sentences": manifest.get("sentences"), "model": manifest.get("model"), "dim": manifest.get("dim"),
        "faiss": manifest.get("faiss"), "bytes": size, "created": manifest.get("created"),
        # a machine that only reads a shared index can still search one whose words an older qa read (the writer re-reads them)
        "stale": outdated(cfg, manifest, words=not reads_only(cfg)), "generation": gen, "reads_only": reads_only(cfg),
    }
    if as_json:
        click.echo(json.dumps(info, indent=1))
        return
    click.echo(
        f"index       {cfg.where} ({gen}, built {info['created']})\n"
        f"corpus      {READ_ONLY if reads_only(cfg) else cfg.corpus_dir}\n"
        f"articles    {info['articles']}\n"
        f"passages    {info['passages']} ({info['sentences']} sentences)\n"
        f"model       {info['model']} ({info['dim']} dimensions, {'Milvus' if cfg.milvus else 'FAISS'} {info['faiss']})\n"
        f"size        {'on the server' if size is None else f'{size / 1e6:.2f} MB'}\n"
        f"stale       {'yes: ' + (empty or CLI_REMEDY[Fix.INDEX]) if info['stale'] else 'no'}"
    )


def _live_index(cfg: Config) -> tuple[str | None, dict, int | None]:
    """The live generation's name, its manifest and its size in bytes (None on a server); (None, {}, None) if none."""
    if cfg.milvus:
        from qa.milvus.client import Milvus
        from qa.milvus.sync import live_manifest

        db = Milvus(cfg)
        try:
            live = live_manifest(db, cfg)
            return (None, {}, None) if live is None else (db.live(), live(), None)
        finally:
            db.close()
    from qa.index import current_generation, read_manifest

    gen = current_generation(cfg.index_dir) if cfg.index_dir.is_dir() else None
    if gen is None:
        return None, {}, None
    return gen.name, read_manifest(gen), sum(p.stat().st_size for p in gen.rglob("*") if p.is_file())


# --- add -------------------------------------------------------------------------------------

@main.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--no-sync", is_flag=True, help="Copy only; don't sync the index.")
@common_options
def add(cfg: Config, files: tuple[Path, ...], no_sync: bool) -> None:
    """Copy .txt, .md or .html articles into the corpus, then sync the index.

    Example: qa add ~/Downloads/ccg-ratings.html notes/story.txt
    """
    from qa.index import refuse_reader
    from qa.ingest import add_files

    refuse_reader(cfg)  # a machine that only reads a shared index adds nothing to it
    added = add_files(list(files), cfg)
    for src, dest in added:
        click.echo(f"added {src} as {dest}")
    if added and not no_sync:
        report = run_sync(cfg)
        click.echo(f"index synced: {report.plan.summary()}, {report.passages_total} passages")


# --- ask -------------------------------------------------------------------------------------

def load_history(path: Path | None) -> list:
    """Earlier turns from a JSON file: an array of questions or of {"question", "answer"} objects."""
    if path is None:
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})",
                                 param_hint="--history") from exc
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"cannot read {path} as JSON ({exc})", param_hint="--history") from exc
    if not isinstance(data, list) or not all(isinstance(t, (str, dict)) for t in data):
        raise click.BadParameter("must be a JSON array of questions or {\"question\", \"answer\"} objects", param_hint="--history")
    return data


@main.command(context_settings=CONTEXT)
@click.argument("question")
@click.option("--history", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON file of earlier turns (oldest first) for follow-up questions.")
@click.option("--retriever", type=click.Choice(RETRIEVERS), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--asked", default="", metavar="DATE",
              help="Ask as on that day (2022-07-08): articles dated after it (by more than a day) are left out, and \"this week\", "
                   "\"the latest\" and timelines are read against it. Default: today.")
@date_options
@common_options
def ask(cfg: Config, question: str, history: Path | None, retriever: str, as_json: bool, asked: str, since: str | None,
        until: str | None) -> None:
    """Answer QUESTION with the articles' own sentences, each cited; or say they don't say.

    Example: qa ask "Why was North Derbyshire rated inadequate?"; qa ask "How many CCGs were rated inadequate?" --since 2019
    """
    from qa.dates import parse_day

    dates = date_range(since, until)
    day = asked and parse_day(asked, "--asked")  # a bad day is a one-line error, as a bad --since is
    question = _check_question(question, cfg)
    turns = load_history(history)
    with open_ready(cfg) as session:
        answer = session.engine.ask(question, turns, mode=retriever, dates=dates, asked=day)
    if as_json:
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False, indent=1))
        return
    from qa.render import answer_renderables

    emit(*answer_renderables(answer))


# --- eval ------------------------------------------------------------------------------------

def eval_config(cfg: Config, corpus_given: bool, index_given: bool) -> Config:
    """With --corpus but no --index, evaluate over a cached index keyed by the corpus content and the model (its fitted
    encoder deltas included)."""
    import hashlib
    from dataclasses import replace

    from qa.deltas import digest_for

    if not corpus_given or index_given:
        return cfg
    digest = hashlib.sha256()
    for path in sorted(cfg.corpus_dir.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(cfg.corpus_dir).as_posix().encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(json.dumps([cfg.model, digest_for(cfg.model), cfg.chunk.as_dict()]).encode())
    return replace(cfg, index_dir=cache_root() / "eval" / digest.hexdigest()[:16])


@main.command("eval", context_settings=CONTEXT)
@click.argument("questions", type=click.Path(path_type=Path))
@click.option("--retriever", type=click.Choice(RETRIEVERS), default="hybrid", show_default=True)
@click.option("--compare", is_flag=True, help="Also run bm25 and dense, side by side with hybrid.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N questions.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also save the JSON report here.")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), default=None, help="A saved report to compare with.")
@click.option("--fail-under", "floors", multiple=True, metavar="METRIC=VALUE", help="Exit 1 when a metric misses this floor.")
@click.option("--show-failures", is_flag=True, help="List the questions that went wrong.")
@common_options
@click.pass_context
def eval_cmd(ctx: click.Context, cfg: Config, questions: Path, retriever: str, compare: bool, limit: int | None,
             as_json: bool, out: Path | None, baseline: Path | None, floors: tuple[str, ...], show_failures: bool) -> None:
    """Score qa against a question set (JSONL, or a BEIR folder): retrieval, answers, abstention.

    Example: qa eval questions/ccg.jsonl --compare --show-failures --fail-under answer_first=0.6
    """
    from qa.evaluate import missed_floors, parse_floor, read_question_set

    parsed_floors = [parse_floor(f) for f in floors]
    base = _read_baseline(baseline)
    qs = read_question_set(questions, limit)  # all of it first: a bad line or an empty file fails before any work
    cfg = _eval_corpus(ctx, cfg, questions)
    modes = [retriever] + ([m for m in RETRIEVERS if m != retriever] if compare else [])
    with open_ready(cfg) as session:
        reports = _run_modes(session, qs, modes)
    report = reports[retriever]
    report.update({"retriever": retriever, "corpus": str(cfg.corpus_dir), "index": cfg.where})
    indexing = _indexing(session.report)
    if indexing:
        report["indexing"] = indexing
    if compare:
        report["compare"] = {m: {**r["metrics"], **r["extra_metrics"]} for m, r in reports.items()}
    for w in report["warnings"][:20]:
        warn(w)
    if out:
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    if as_json:
        keys = ("n", "metrics", "questions") + (("compare",) if compare else ())
        click.echo(json.dumps({k: report[k] for k in keys}, ensure_ascii=False, indent=1))
    else:
        _print_eval(report, base, show_failures)
    missed = missed_floors({**report["metrics"], **report["extra_metrics"]}, parsed_floors)
    if missed:
        fail("below the floor: " + "; ".join(missed), 1)


def _eval_corpus(ctx: click.Context, cfg: Config, questions: Path) -> Config:
    """cfg for an eval: a BEIR folder brings its own corpus; a corpus given alone gets a cached index."""
    import os
    from dataclasses import replace

    from qa.corpus import require_corpus_dir
    from qa.evaluate import beir_corpus

    src = ctx.get_parameter_source
    corpus_given = src("corpus_dir").name != "DEFAULT" or "QA_CORPUS" in os.environ
    if questions.is_dir() and (questions / "corpus.jsonl").exists() and src("corpus_dir").name == "DEFAULT":
        cfg = replace(cfg, corpus_dir=beir_corpus(questions, cache_root() / "eval"))
        corpus_given = True
    if not cfg.milvus:  # with only a Milvus URI, the questions are asked of the server's index (qa.index.needs_sync)
        require_corpus_dir(cfg.corpus_dir)
    return eval_config(cfg, corpus_given, src("index_dir").name != "DEFAULT" or "QA_INDEX" in os.environ)


def _read_baseline(path: Path | None) -> dict | None:
    """The metrics of a saved report (--baseline)."""
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))["metrics"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise click.BadParameter(f"cannot read a report from {path} ({exc})", param_hint="--baseline") from exc


def _run_modes(session: Session, qs: list, modes: list[str]) -> dict[str, dict]:
    """One eval report per retriever, with a progress bar on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from qa.evaluate import run_eval

    known = set(session.doc_ids())
    reports = {}
    with Progress(TextColumn("evaluating {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=_console(stderr=True), transient=True) as bar:
        for mode in modes:
            task = bar.add_task(mode, total=len(qs))
            reports[mode] = run_eval(session.engine, qs, mode=mode, progress=lambda n, t=task: bar.advance(t, n), known_docs=known)
    return reports


def _indexing(report: SyncReport | None) -> dict | None:
    """How fast the sync before an eval embedded, when it embedded anything."""
    if report is None or not report.passages_embedded:
        return None
    return {"passages": report.passages_embedded, "seconds": round(report.seconds, 2),
            "passages_per_s": round(report.passages_embedded / max(report.seconds, 1e-9), 2)}


def _print_eval(report: dict, base: dict | None, show_failures: bool) -> None:
    from qa.render import eval_table, failures_table

    emit(eval_table(report, base))
    indexing = report.get("indexing")
    if indexing:
        click.echo(f"indexing: {indexing['passages']} passages in {indexing['seconds']} s ({indexing['passages_per_s']} passages/s)")
    if show_failures:
        emit(failures_table(report))


@main.command(context_settings=CONTEXT)
@common_options
def chat(cfg: Config) -> None:
    """Open the terminal chat (also what a bare `qa` does).

    Example: qa chat --corpus ~/articles
    """
    from qa.tui.app import run_chat

    run_chat(cfg)
