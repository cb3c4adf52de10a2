"""Find article files under corpus/, read their metadata, and clean them into Article records."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from qa.clean import CLEAN_VERSION, clean_text, decode_bytes, strip_controls
from qa.errors import CorpusError, Fix

ARTICLE_SUFFIXES = (".txt", ".md", ".html", ".htm")
SIDECAR_SUFFIX = ".meta.json"
META_KEYS = ("title", "date", "source", "url")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Article:
    """One cleaned article: `text` is canonical; every offset in qa points into it."""

    doc_id: str
    path: str
    text: str
    title: str
    date: str = ""
    source: str = ""
    url: str = ""
    content_hash: str = ""


@dataclass
class ScanResult:
    """Articles read from a corpus folder and a warning for each file that was skipped."""

    articles: list[Article] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def doc_id_for(rel_path: Path) -> str:
    """The document id: the path under corpus/ without its extension, with '/' separators."""
    return rel_path.with_suffix("").as_posix()


def parse_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split a leading `---` block of `key: value` lines from the body."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta: dict[str, str] = {}
    for line in match.group(1).splitlines():
        if ":" not in line:
            continue
        key, value = line.split(":", 1)
        key = key.strip().lower()
        if key in META_KEYS:
            meta[key] = value.strip().strip("'\"")
    return meta, text[match.end():]


def read_sidecar(path: Path) -> dict[str, str]:
    """Metadata from `NAME.meta.json` beside the article, if there is one."""
    side = path.with_name(path.stem + SIDECAR_SUFFIX)
    if not side.is_file():
        return {}
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(f"{side.name}: unreadable metadata ({exc})") from exc
    if not isinstance(data, dict):
        raise CorpusError(f"{side.name}: metadata must be a JSON object")
    return {k: str(v) for k, v in data.items() if k in META_KEYS and v is not None}


def guess_title(text: str, doc_id: str) -> str:
    """The first line when it reads like a headline (short, no closing full stop), else the id."""
    first = text.split("\n", 1)[0].strip()
    if first and len(first) <= 160 and not first.endswith((".", ":", "”", '"')):
        return first
    return doc_id


def html_to_text(raw: str) -> tuple[dict[str, str], str]:
    """Main text and metadata of an HTML page, extracted by trafilatura."""
    import trafilatura

    text = trafilatura.extract(raw, include_comments=False, include_tables=False) or ""
    meta_obj = trafilatura.extract_metadata(raw)
    meta: dict[str, str] = {}
    if meta_obj is not None:
        for key in META_KEYS:
            value = getattr(meta_obj, key, None) or (getattr(meta_obj, "sitename", None) if key == "source" else None)
            if value:
                meta[key] = str(value)
    return meta, text


def read_text(path: Path, name: str, max_bytes: int) -> str:
    """A file's text, decoded; CorpusError when it is over the size cap, unreadable or binary."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise CorpusError(f"{name}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.1f} MB size cap (QA_MAX_FILE_BYTES)")
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    return decode_bytes(data, name).text


def load_article(path: Path, corpus_dir: Path, max_bytes: int) -> Article:
    """Read, decode and clean one article file; raise CorpusError with the reason it can't be."""
    rel = path.relative_to(corpus_dir)
    name = rel.as_posix()
    raw = read_text(path, name, max_bytes)
    if path.suffix.lower() in (".html", ".htm"):
        meta, body = html_to_text(raw)
    else:
        meta, body = parse_front_matter(raw.lstrip("\ufeff"))
    meta = {**read_sidecar(path), **{k: v for k, v in meta.items() if v}}
    meta = {k: " ".join(strip_controls(v).split()) for k, v in meta.items()}
    text = clean_text(body)
    if not text:
        raise CorpusError(f"{name}: no text after cleaning")
    doc_id = doc_id_for(rel)
    digest = hashlib.sha256(
        json.dumps([CLEAN_VERSION, text, sorted(meta.items())], ensure_ascii=False).encode()
    ).hexdigest()
    return Article(
        doc_id=doc_id,
        path=name,
        text=text,
        title=meta.get("title") or guess_title(text, doc_id),
        date=meta.get("date", ""),
        source=meta.get("source", ""),
        url=meta.get("url", ""),
        content_hash=digest,
    )


def iter_article_paths(corpus_dir: Path, warnings: list[str]) -> Iterator[Path]:
    """Article files under corpus_dir in a stable order, without following symlink loops."""
    seen_dirs: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(corpus_dir, followlinks=True, onerror=lambda e: warnings.append(f"{e.filename}: cannot list ({e.strerror})")):
        try:
            st = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:
            warnings.append(f"{Path(root).relative_to(corpus_dir).as_posix()}: folder seen before (symlink loop), skipped")
            dirs[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for fname in sorted(files):
            path = Path(root) / fname
            if fname.startswith(".") or fname.endswith(SIDECAR_SUFFIX) or (fname.lower() == "readme.md" and Path(root) == corpus_dir):
                continue
            if path.suffix.lower() not in ARTICLE_SUFFIXES:
                warnings.append(f"{path.relative_to(corpus_dir).as_posix()}: not an article type ({', '.join(ARTICLE_SUFFIXES)}), skipped")
                continue
            yield path


def fingerprint(corpus_dir: Path) -> dict[str, list[int]]:
    """Size and modification time of every article file and sidecar: a cheap staleness check."""
    out: dict[str, list[int]] = {}
    ignored: list[str] = []
    for path in iter_article_paths(corpus_dir, ignored):
        for p in (path, path.with_name(path.stem + SIDECAR_SUFFIX)):
            try:
                st = p.stat()
            except OSError:
                continue
            out[p.relative_to(corpus_dir).as_posix()] = [st.st_size, st.st_mtime_ns]
    return out


def require_corpus_dir(corpus_dir: Path) -> None:
    """CorpusError (with the remedy Fix.CORPUS) unless the corpus folder exists."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist", fix=Fix.CORPUS)


def no_articles(scan: ScanResult, corpus_dir: Path) -> CorpusError:
    """The error for a corpus with nothing to index, naming the first file skipped when there was one."""
    skipped = ""
    if scan.warnings:
        more = "; ..." if len(scan.warnings) > 1 else ""
        skipped = f" ({len(scan.warnings)} skipped: {scan.warnings[0].removesuffix(', skipped')}{more})"
    return CorpusError(f"no articles in {corpus_dir}{skipped}", fix=Fix.ADD)


def scan_corpus(corpus_dir: Path, max_bytes: int) -> ScanResult:
    """Every readable article in corpus_dir; unreadable ones become warnings, not errors."""
    require_corpus_dir(corpus_dir)
    result = ScanResult()
    seen_ids: dict[str, str] = {}
    seen_text: dict[str, str] = {}
    for path in iter_article_paths(corpus_dir, result.warnings):
        try:
            article = load_article(path, corpus_dir, max_bytes)
        except CorpusError as exc:
            result.warnings.append(f"{exc}, skipped")
            continue
        if article.doc_id in seen_ids:
            result.warnings.append(f"{article.path}: same document id as {seen_ids[article.doc_id]}, skipped")
            continue
        text_key = hashlib.sha256(article.text.encode()).hexdigest()
        if text_key in seen_text:
            result.warnings.append(f"{article.path}: same text as {seen_text[text_key]}, skipped as a duplicate")
            continue
        seen_ids[article.doc_id] = article.path
        seen_text[text_key] = article.path
        result.articles.append(article)
    return result
