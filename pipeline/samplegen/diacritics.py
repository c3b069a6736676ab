"""A diacritics-heavy value set: Swedish names and places full of å, ä and ö, set in the
PDF base fonts (sans, serif, monospace) at 7-12 pt, printed by PDFium at 300 dpi and
scanned like an office scanner or a fax (``samplegen.degrade``). Each word comes back as
the crop a text field of its own would give, scanned at 300 dpi as normalize makes it.

Used by ``bench/diacritics.py`` (the whole grid) and the tests (a fixed slice), to prove
that the text cleanup keeps every dot and ring the scan still has.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.records import Gray
from pipeline.samplegen.degrade import degrade

WORDS = (
    "Jönsson Åsa Älvsjö Göteborg Västerås Örebro Måns Björk Ängelholm Höör Håkan Sjöström "
    "Lövgren Ärla Åre Östersund Malmö Bäckström Nyström Överkalix Järfälla Täby Söderhamn "
    "Hällefors Kärrbäck Ödeshög Åmål Sälen Vänersborg Mölndal Lärkgränd Körsbärsvägen "
    "Klämskada Överarm Fröjd Ågren Ähnlund Öhman Sörmland Trädgårdsgatan"
).split()
# The PDF base fonts need no font files: PDFium draws its own sans, serif and monospace.
FONTS = ("Helvetica", "Times-Roman", "Courier")
SIZES = (7, 8, 9, 10, 12)
DPI = 300
MARGIN_PX = 12  # context around the word, as a field box's margin gives


@dataclass(frozen=True)
class Sample:
    word: str
    font: str
    size: float
    level: str
    crop: Gray


def samples(
    words: Sequence[str],
    fonts: Sequence[str],
    sizes: Sequence[float],
    levels: Sequence[str],
    seed: int,
) -> Iterator[Sample]:
    """Every word in every font, size and scan level; deterministic for a seed."""
    rng = random.Random(seed)
    for font in fonts:
        for size in sizes:
            page, boxes = _page(words, font, size)
            for level in levels:
                scan, hom, dpi = degrade(page, rng, level)
                for word, box in zip(words, boxes, strict=True):
                    yield Sample(word, font, size, level, _crop(scan, hom, box, dpi))


def _page(words: Sequence[str], font: str, size: float) -> tuple[Gray, list[tuple[float, ...]]]:
    """One A4 page with one word per line, in two columns; each word's box in 300-dpi
    pixels."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    from pipeline.pdfrender import render_pages

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842))
    c.setFont(font, size)
    boxes = []
    step = max(2.2 * size, 14)
    rows = int(740 // step)
    for i, word in enumerate(words):
        x, y = 60 + 260 * (i // rows), 800 - step * (i % rows)
        c.drawString(x, y, word)
        width = stringWidth(word, font, size)
        # ascent with the ring of Å above it, descent below the baseline
        top, bottom = y + 1.05 * size, y - 0.3 * size
        boxes.append(tuple(v * DPI / 72 for v in (x, 842 - top, x + width, 842 - bottom)))
    c.showPage()
    c.save()
    (page,) = render_pages(buf.getvalue(), DPI)
    return page, boxes


def _crop(scan: Gray, hom: np.ndarray, box: tuple[float, ...], dpi: int) -> Gray:
    x0, y0, x1, y1 = box
    corners = np.array([[[x0, y0]], [[x1, y0]], [[x1, y1]], [[x0, y1]]], dtype=np.float64)
    mapped = cv2.perspectiveTransform(corners, hom).reshape(-1, 2)
    m = MARGIN_PX * dpi / DPI
    left, top = np.floor(mapped.min(axis=0) - m).astype(int)
    right, bottom = np.ceil(mapped.max(axis=0) + m).astype(int)
    h, w = scan.shape
    crop = scan[max(0, top) : min(h, bottom), max(0, left) : min(w, right)]
    if dpi != DPI:  # as normalize brings a fax to the working resolution
        f = DPI / dpi
        crop = cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(crop)


def lost_marks(truth: str, read: str) -> int:
    """How many of ``truth``'s å/ä/ö/Å/Ä/Ö came back without their dots or ring (read as
    the bare letter), position by position where the lengths agree."""
    if len(truth) != len(read):
        return 0
    bare = str.maketrans("åäöÅÄÖ", "aaoAAO")
    return sum(
        1 for t, r in zip(truth, read, strict=True) if t in "åäöÅÄÖ" and r == t.translate(bare)
    )
