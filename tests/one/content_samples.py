"""Sample files of every supported kind (and a small hand-written PDF) for the content import tests."""

from __future__ import annotations

from pathlib import Path


def pdf_bytes(text: str, title: str | None = None) -> bytes:
    """A one-page PDF showing `text` in Helvetica, with an optional document title."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Title (%s) >>" % (title or "").encode(),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = b" /Info 6 0 R" if title else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


SRT = """1
00:00:01,000 --> 00:00:04,000
Welcome back to the <i>kettlebell</i> show.

2
00:00:04,000 --> 00:00:07,500
Welcome back to the <i>kettlebell</i> show.
Today: the swing, step by step.

3
00:00:07,500 --> 00:00:09,000
{\\an8}Hinge at the hips, not the knees.
"""

VTT = """WEBVTT
Kind: captions

NOTE recorded live in the garage

STYLE
::cue { color: yellow }

intro
00:00.000 --> 00:03.000 align:start
<v Coach Maya>Breathe out on every rep.

00:03.000 --> 00:06.000
Rest <00:04.000><c>ninety seconds</c> between sets.
"""

HTML = """<!doctype html><html><head><title>Mobility  basics</title>
<style>body { color: red } .secret-style {}</style>
<script>var secretScript = "never index me";</script></head>
<body><nav>Home</nav><h1>Ignored because a title exists</h1>
<p>Ten minutes of mobility a day keeps your <b>hips</b> happy &amp; loose.</p>
<noscript>enable javascript please</noscript><ul><li>Cat-cow</li><li>Pigeon pose</li></ul></body></html>
"""

MARKDOWN = """---
title: "Protein, simply"
tags: nutrition
---
# A heading that is not the title

Aim for 1.6 grams of protein per kilogram of body weight, spread over the day.
"""


def write_samples(folder: Path) -> dict[str, Path]:
    """One file of every supported kind under `folder` (nested, plus a hidden and an unsupported file)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "talks").mkdir(exist_ok=True)
    (folder / ".drafts").mkdir(exist_ok=True)
    files = {
        "md": folder / "protein.md",
        "txt": folder / "sleep-well.txt",
        "html": folder / "mobility.html",
        "srt": folder / "talks" / "swing.srt",
        "vtt": folder / "talks" / "breathing.vtt",
        "pdf": folder / "guide.pdf",
    }
    files["md"].write_text(MARKDOWN)
    files["txt"].write_text("Sleep well\n\nSeven to nine hours of sleep beats any supplement for recovery.\n")
    files["html"].write_text(HTML)
    files["srt"].write_text(SRT)
    files["vtt"].write_text(VTT)
    files["pdf"].write_bytes(pdf_bytes("Deadlifts build the whole posterior chain.", "The Deadlift Guide"))
    (folder / ".drafts" / "secret.md").write_text("# Hidden\n\nnot for import")
    (folder / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not text")
    return files
