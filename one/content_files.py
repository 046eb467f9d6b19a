"""A creator's own files read as content: Markdown, plain text, HTML, subtitles (SRT/VTT) and PDF.

    found, missing = find_content_files([Path("posts"), Path("talk.srt")])   # directories are walked
    item = read_content_file(found[0])        # ContentFile(path, title, text, type, sha256)

Pure functions of the file system, nothing written. A file that cannot become content (unreadable,
empty, binary, not UTF-8, too large, an unsupported kind) is InvalidInput naming the file.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from ontology.bulk_load import MAX_DOCUMENT_CHARS
from ontology.errors import InvalidInput

__all__ = ["SUPPORTED_SUFFIXES", "ContentFile", "find_content_files", "read_content_file"]

MAX_FILE_BYTES = 50 * 1024 * 1024  # a PDF with images may be large; its text is held to MAX_DOCUMENT_CHARS
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class ContentFile:
    """One file read as content: where it is, its title and text, the content type it suggests, its sha256."""

    path: Path
    title: str
    text: str
    type: str
    sha256: str


# ---- text formats ----------------------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _markdown(text: str) -> tuple[str | None, str]:
    title = None
    front = _FRONT_MATTER.match(text)
    if front:
        text = text[front.end() :]
        found = re.search(r"^title:\s*(.+)$", front.group(1), re.M)
        title = found.group(1).strip().strip("'\"") if found else None
    if title is None:
        heading = _HEADING.search(text)
        title = heading.group(1) if heading else None
    return title, text


def _plain(text: str) -> tuple[str | None, str]:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return (first if len(first) <= 120 else None), text


class _HtmlText(HTMLParser):
    """Visible text of an HTML page: scripts, styles and the like dropped, blocks on their own lines."""

    SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    BLOCKS = frozenset({"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header", "footer"})
    BLOCKS |= {"h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr", "dt", "dd"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.h1: list[str] = []
        self._skipping: list[str] = []
        self._in: str | None = None  # "title" or "h1" while inside one

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body" and "head" in self._skipping:  # a <head> never closed ends where <body> starts
            self._skipping.remove("head")
        if tag == "title" or (tag == "h1" and not self.h1):
            self._in = tag
        elif tag in self.SKIPPED:
            self._skipping.append(tag)
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None
        elif self._skipping and tag == self._skipping[-1]:
            self._skipping.pop()
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title.append(data)
            return
        if self._in == "h1":
            self.h1.append(data)
        if not self._skipping:
            self.parts.append(data)


def _html(text: str) -> tuple[str | None, str]:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    body = "\n".join(line for line in lines if line)
    title = " ".join("".join(parser.title).split()) or " ".join("".join(parser.h1).split())
    return title or None, body


_TIMING = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?[.,]\d{1,3}\s*-->")
_CUE_TAGS = re.compile(r"<[^>]*>|\{\\[^}]*\}")  # <i>, <v Speaker>, <00:01.000>, {\an8}


def _subtitles(text: str) -> tuple[str | None, str]:
    """Transcript text of SRT or WebVTT: cue numbers, identifiers, timings, notes and styling dropped."""
    said: list[str] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [line.strip() for line in block.strip().split("\n") if line.strip()]
        timing = next((i for i, line in enumerate(lines) if _TIMING.match(line)), None)
        if timing is None:
            continue  # WEBVTT header, NOTE, STYLE, REGION, or stray text without a cue
        for line in lines[timing + 1 :]:
            spoken = " ".join(_CUE_TAGS.sub("", line).split())
            if spoken and (not said or said[-1] != spoken):  # auto captions repeat the previous line
                said.append(spoken)
    return None, " ".join(said)


# ---- PDF -------------------------------------------------------------------------------------------------------


def _pdf(path: Path, data: bytes) -> tuple[str | None, str]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidInput(f"{path}: the PDF is password-protected")
        text = "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
        title = reader.metadata.title if reader.metadata else None
    except InvalidInput:
        raise
    except Exception as error:  # pypdf raises many kinds (PdfReadError, KeyError, ValueError) on broken files
        raise InvalidInput(f"{path}: not a readable PDF ({type(error).__name__}: {error})") from error
    return (str(title) if title else None), text.replace("\x00", "")


# ---- reading ---------------------------------------------------------------------------------------------------

_TEXT_READERS: dict[str, tuple[Callable[[str], tuple[str | None, str]], str]] = {
    ".md": (_markdown, "blog_post"),
    ".markdown": (_markdown, "blog_post"),
    ".txt": (_plain, "blog_post"),
    ".text": (_plain, "blog_post"),
    ".html": (_html, "blog_post"),
    ".htm": (_html, "blog_post"),
    ".srt": (_subtitles, "video"),
    ".vtt": (_subtitles, "video"),
}
SUPPORTED_SUFFIXES = frozenset({*_TEXT_READERS, ".pdf"})


def _decode(path: Path, data: bytes) -> str:
    if b"\x00" in data:
        raise InvalidInput(f"{path}: a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text (a binary file, or another encoding)") from None


def _title_from_name(path: Path) -> str:
    words = re.sub(r"[-_]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.name


def read_content_file(path: Path) -> ContentFile:
    """Read one file as content: its title (front matter, heading, <title>/<h1>, PDF metadata, else the
    file name), its text, the content type it suggests (subtitles: video; otherwise blog_post) and the
    sha256 of its bytes. InvalidInput when the file cannot become content."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InvalidInput(f"{path}: unsupported file type; supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidInput(f"{path}: {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
        data = path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"{path}: cannot be read ({error.strerror or type(error).__name__})") from error
    if suffix == ".pdf":
        title, text, kind = *_pdf(path, data), "blog_post"
    else:
        reader, kind = _TEXT_READERS[suffix]
        title, text = reader(_decode(path, data))
    text = text.strip()
    if not text:
        raise InvalidInput(f"{path}: no text in it")
    if len(text) > MAX_DOCUMENT_CHARS:
        raise InvalidInput(f"{path}: {len(text):,} characters of text; the limit is {MAX_DOCUMENT_CHARS:,}")
    title = " ".join((title or "").split())[:MAX_TITLE_CHARS] or _title_from_name(path)
    return ContentFile(path.resolve(), title, text, kind, hashlib.sha256(data).hexdigest())


def find_content_files(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """(files to read, paths that do not exist). A directory gives its supported files, walked in name
    order, hidden ones skipped; a file named outright is kept whatever its kind (reading it says why not)."""
    found: dict[Path, None] = {}
    missing: list[Path] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and not hidden and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.setdefault(child.resolve())
        elif path.exists():
            found.setdefault(path.resolve())
        else:
            missing.append(path)
    return list(found), missing
