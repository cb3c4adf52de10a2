"""Decode raw article bytes and clean them into the canonical text every offset points into."""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from qa.errors import CorpusError

CLEAN_VERSION = 1

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

# Lines that are page furniture, not article text (matched against the whole stripped line).
_JUNK_LINE = re.compile(
    r"^(hide ad|ads by google|advertisement|advertising|stock image\.?|"
    r"this site is intended for [\w\s]+ only\.?|share this article|sponsored( content)?)$",
    re.IGNORECASE,
)
# ANSI/VT escape sequences (CSI, OSC, single-character escapes) and other control characters.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2028\u2029\ufeff]")
# What a lost "‘" leaves behind after a double mis-decoding: "'˜word'" (ftfy 6.3 keeps it).
_LOST_LQUOTE_PAIR = re.compile(r"'˜([^'\n]{1,120}?)'(?=\W|$)")
_LOST_LQUOTE = re.compile(r"'˜|â€˜")
_SELF_REPEAT = re.compile(r"^(.{4,}?)(?:\s*\1)+$")


class Decoded(NamedTuple):
    """Text decoded from bytes and the encoding that was used."""

    text: str
    encoding: str


def decode_bytes(data: bytes, name: str = "file") -> Decoded:
    """Decode article bytes: BOM, then UTF-8, then detection; raise CorpusError for binary data."""
    if not data.strip():
        raise CorpusError(f"{name}: empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(encoding), encoding.replace("-sig", ""))
            except UnicodeDecodeError as exc:
                raise CorpusError(f"{name}: not valid {encoding} despite its byte-order mark") from exc
    if b"\x00" not in data:
        try:
            return Decoded(data.decode("utf-8"), "utf-8")
        except UnicodeDecodeError:
            pass
        if _looks_like_cp1252(data):
            return Decoded(data.decode("cp1252"), "cp1252")
    return _detect(data, name)


def _looks_like_cp1252(data: bytes) -> bool:
    """Western single-byte text: decodes as cp1252 without undefined bytes or control characters."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    return controls == 0


def _detect(data: bytes, name: str) -> Decoded:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise CorpusError(f"{name}: binary or undecodable file")
    text = str(best)
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t")
    if printable < 0.95 * max(len(text), 1):
        raise CorpusError(f"{name}: binary or undecodable file")
    return Decoded(text, best.encoding)


def strip_controls(text: str) -> str:
    """Remove terminal escape sequences and control characters (keeps newlines and tabs)."""
    return _CONTROL.sub("", _ESCAPES.sub("", text))


def fix_mojibake(text: str) -> str:
    """Repair mis-decoded text with ftfy, plus the lost-left-quote pattern ftfy leaves alone."""
    import ftfy

    text = ftfy.fix_text(
        text,
        uncurl_quotes=False,
        fix_character_width=False,
        fix_latin_ligatures=False,
        normalization="NFC",
    )
    text = _LOST_LQUOTE_PAIR.sub(lambda m: f"‘{m.group(1)}’", text)
    return _LOST_LQUOTE.sub("‘", text)


def _line_key(line: str) -> tuple[str, bool]:
    """A comparison key for a line, and whether the line is one phrase repeated ("X X")."""
    norm = re.sub(r"\s+", " ", line).strip().casefold()
    match = _SELF_REPEAT.match(norm)
    if match:
        norm = match.group(1).strip()
    return norm.rstrip(".!?:;,"), bool(match)


def drop_boilerplate(lines: list[str]) -> list[str]:
    """Drop advert and banner lines; collapse a line repeated back-to-back to one copy."""
    kept: list[str] = []
    groups: list[tuple[str, list[int], bool]] = []  # key, indexes into `lines`, banner?
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        key, repeated = _line_key(line)
        if _JUNK_LINE.match(key) or _JUNK_LINE.match(line.strip()):
            continue
        if groups and groups[-1][0] == key:
            groups[-1][1].append(i)
            groups[-1] = (key, groups[-1][1], groups[-1][2] or repeated)
        else:
            groups.append((key, [i], repeated))
    keep_index: set[int] = set()
    for _key, idxs, banner in groups:
        if banner:
            continue
        keep_index.add(max(idxs, key=lambda j: (len(lines[j].strip()), -j)))
    # rebuild, keeping paragraph breaks (blank lines) between kept lines
    prev_blank = False
    for i, line in enumerate(lines):
        if i in keep_index:
            if prev_blank and kept:
                kept.append("")
            kept.append(line)
            prev_blank = False
        elif not line.strip():
            prev_blank = True
    return kept


def normalise_whitespace(text: str) -> str:
    """Unify line ends and spaces; strip lines; at most one blank line between paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+", " ", text)
    lines = [line.strip() for line in text.split("\n")]
    return "\n".join(lines)


def clean_text(raw: str) -> str:
    """The canonical article text: controls stripped, mojibake fixed, boilerplate dropped, spaced."""
    text = strip_controls(raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = fix_mojibake(text)
    text = unicodedata.normalize("NFC", text)
    text = normalise_whitespace(text)
    lines = drop_boilerplate(text.split("\n"))
    out = "\n".join(lines)
    out = re.sub(r"\n{3,}", "\n\n", out)
    return out.strip()
