"""Adding article files to the corpus: copy text, convert HTML, refuse duplicates."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from qa.clean import clean_text
from qa.config import Config
from qa.corpus import ARTICLE_SUFFIXES, html_to_text, load_article, parse_front_matter, read_text, scan_corpus
from qa.errors import CorpusError


def _front_matter(meta: dict[str, str]) -> str:
    lines = [f"{k}: {' '.join(v.split())}" for k, v in meta.items() if v]
    return "---\n" + "\n".join(lines) + "\n---\n\n" if lines else ""


def _safe_name(stem: str) -> str:
    name = re.sub(r"[^\w.\- ]+", "_", stem).strip(" .") or "article"
    return name[:120]


def prepare(src: Path, cfg: Config) -> tuple[str, bytes, str]:
    """The file name, bytes to write and cleaned text of one article to add."""
    if not src.is_file():
        raise CorpusError(f"{src}: no such file")
    suffix = src.suffix.lower()
    if suffix not in ARTICLE_SUFFIXES:
        raise CorpusError(f"{src}: only {', '.join(ARTICLE_SUFFIXES)} articles can be added")
    raw = read_text(src, str(src), cfg.max_file_bytes)
    if suffix in (".html", ".htm"):
        meta, body = html_to_text(raw)
        text = clean_text(body)
        if not text:
            raise CorpusError(f"{src}: no article text found in the page")
        return _safe_name(src.stem) + ".md", (_front_matter(meta) + body.strip() + "\n").encode("utf-8"), text
    _meta, body = parse_front_matter(raw)
    text = clean_text(body)
    if not text:
        raise CorpusError(f"{src}: no text in the file")
    return _safe_name(src.stem) + suffix, src.read_bytes(), text


def add_files(files: list[Path], cfg: Config) -> list[tuple[Path, str]]:
    """Copy articles into the corpus; refuse one whose text is already there or whose name is taken."""
    cfg.corpus_dir.mkdir(parents=True, exist_ok=True)
    existing = scan_corpus(cfg.corpus_dir, cfg.max_file_bytes).articles
    by_text = {hashlib.sha256(a.text.encode()).hexdigest(): a.path for a in existing}
    prepared = []
    for src in files:
        name, payload, text = prepare(src, cfg)
        key = hashlib.sha256(text.encode()).hexdigest()
        if key in by_text:
            raise CorpusError(f"{src}: already in the corpus as {by_text[key]}; nothing added")
        dest = cfg.corpus_dir / name
        if dest.exists() or any(p.with_suffix("").name == Path(name).stem for p in cfg.corpus_dir.iterdir()):
            raise CorpusError(f"{src}: the corpus already has an article named {Path(name).stem}; rename the file and try again")
        by_text[key] = name
        prepared.append((src, dest, payload))
    added = []
    for src, dest, payload in prepared:
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.write_bytes(payload)
        tmp.replace(dest)
        load_article(dest, cfg.corpus_dir, cfg.max_file_bytes)  # fails loudly now, not at sync
        added.append((src, dest.relative_to(cfg.corpus_dir).as_posix()))
    return added
