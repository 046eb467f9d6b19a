"""Reading a creator's own files as content: titles, text without markup or timings, and one clear
InvalidInput for a file that cannot become content."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from one.content_files import find_content_files, read_content_file
from ontology import InvalidInput
from ontology.bulk_load import MAX_DOCUMENT_CHARS
from tests.one.content_samples import pdf_bytes, write_samples


@pytest.fixture
def samples(tmp_path: Path) -> dict[str, Path]:
    return write_samples(tmp_path / "library")


def test_markdown_takes_its_title_from_front_matter_or_the_first_heading(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    item = read_content_file(samples["md"])
    assert (item.title, item.type) == ("Protein, simply", "blog_post")
    assert item.text.startswith("# A heading") and "title:" not in item.text and "1.6 grams" in item.text
    assert item.sha256 == hashlib.sha256(samples["md"].read_bytes()).hexdigest()
    assert item.path == samples["md"].resolve()
    plain = tmp_path / "plain.md"
    plain.write_text("Intro line\n\n## Second level heading ##\n\nbody")
    assert read_content_file(plain).title == "Second level heading"


def test_plain_text_takes_its_first_line_as_title(samples: dict[str, Path], tmp_path: Path) -> None:
    item = read_content_file(samples["txt"])
    assert item.title == "Sleep well" and "nine hours" in item.text
    long_first = tmp_path / "my_long-note.txt"
    long_first.write_text("x " * 200)
    assert read_content_file(long_first).title == "My long note"


def test_html_keeps_visible_text_only(samples: dict[str, Path], tmp_path: Path) -> None:
    item = read_content_file(samples["html"])
    assert item.title == "Mobility basics"
    assert "happy & loose" in item.text and "Cat-cow\nPigeon pose" in item.text
    for hidden in ("secretScript", "secret-style", "color: red", "enable javascript", "<p>"):
        assert hidden not in item.text
    no_title = tmp_path / "page.htm"
    no_title.write_text("<body><h1>Kettlebell <em>basics</em></h1><p>Swing it.</p></body>")
    assert read_content_file(no_title).title == "Kettlebell basics"


def test_subtitles_become_a_transcript_without_numbers_or_timings(samples: dict[str, Path]) -> None:
    srt = read_content_file(samples["srt"])
    assert srt.type == "video" and srt.title == "Swing"
    assert srt.text == (
        "Welcome back to the kettlebell show. Today: the swing, step by step. Hinge at the hips, not the knees."
    )
    vtt = read_content_file(samples["vtt"])
    assert vtt.text == "Breathe out on every rep. Rest ninety seconds between sets."
    for noise in ("-->", "WEBVTT", "NOTE", "intro", "Coach Maya", "yellow", "00:0"):
        assert noise not in vtt.text + srt.text


def test_pdf_text_and_title(samples: dict[str, Path], tmp_path: Path) -> None:
    item = read_content_file(samples["pdf"])
    assert (item.title, item.type) == ("The Deadlift Guide", "blog_post")
    assert "posterior chain" in item.text
    untitled = tmp_path / "week-plan.pdf"
    untitled.write_bytes(pdf_bytes("Three sessions a week."))
    assert read_content_file(untitled).title == "Week plan"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("blob.txt", b"\x00\x01\x02binary", "binary"),
        ("latin.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
        ("empty.md", b"", "no text"),
        ("blank.html", b"<html><script>x()</script></html>", "no text"),
        ("silent.srt", b"1\n00:00:01,000 --> 00:00:02,000\n\n", "no text"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "not a readable PDF"),
        ("huge.txt", b"a" * (MAX_DOCUMENT_CHARS + 1), "the limit is"),
        ("photo.jpg", b"\xff\xd8", "unsupported file type"),
    ],
)
def test_a_file_that_cannot_be_content_is_invalid_input_naming_it(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InvalidInput, match=reason) as raised:
        read_content_file(path)
    assert str(path) in str(raised.value)


def test_an_unreadable_file_is_invalid_input(tmp_path: Path) -> None:
    (tmp_path / "folder.md").mkdir()
    with pytest.raises(InvalidInput, match="cannot be read"):
        read_content_file(tmp_path / "folder.md")


def test_directories_are_walked_for_supported_files(samples: dict[str, Path], tmp_path: Path) -> None:
    library = samples["md"].parent
    found, missing = find_content_files([library, samples["md"], tmp_path / "nope.md"])
    assert sorted(found) == sorted(path.resolve() for path in samples.values())  # each once
    assert missing == [tmp_path / "nope.md"]
    named, _ = find_content_files([library / "cover.jpg"])  # named outright: reading it says why not
    assert named == [(library / "cover.jpg").resolve()]
