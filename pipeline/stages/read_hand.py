"""read_hand: digits written by hand in a comb field's boxes, read by the digit model.

A comb field holds one character per cell. Typed digits share one height and one
baseline; digits written by hand do not, and Tesseract, trained on print, reads them
badly and, worse, confidently ("43" as "45" at 0.97). Where the cells' glyphs vary in
height or baseline as handwriting does, each cell is read by the shipped digit model
(``pipeline.digits``: MNIST and handwriting fonts, a calibrated softmax) beside a second
engine's reading of the packed row (PP-OCR, which has seen handwriting). The value is
the model's; its confidence is the probability that every cell is right (the product of
the cells' top probabilities), and ``validate`` lets it through only on the measured
rule (issue 13): a checksum that holds together with agreement or every cell at
``HAND_SURE``, or, without a checksum, both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipeline.calibration import agreement_counts
from pipeline.digits import DigitReader, to_mnist
from pipeline.ports import OcrEngine
from pipeline.records import Evidence, Gray

# A cell's glyph is ink columns within the cell; its rows are its own.
Glyph = tuple[int, int, int, int]  # x0, x1 (page columns), top, bottom (rows, exclusive)

# Typed digits differ in height by a pixel or two (scan noise); a hand's by a fifth or
# more. Between the two, the field counts as typed and Tesseract's calibration holds.
HAND_SPREAD = 0.15
HAND_SURE = 0.9  # a cell the model is this sure of (measured: 0 wrong in 1,700 fields)
# Kinds of field (pipeline.calibration) whose comb cells hold digits; a checksum makes a
# misread value of the "checked" kind rare.
HAND_KINDS = ("digits", "checked")
# A written cell this much lower than the others' median height, and wider than high,
# is a dash (dates, personnummer), which the digit model knows nothing of.
DASH_HEIGHT = 0.4
# A written cell's glyph under this share of the median height, and not a dash, is a
# stray stroke (a neighbour's tail, a speck) rather than a digit.
FRAGMENT = 0.5
OUTSIDE_PX = 40  # ink beyond the comb's ends, in pixels, that may be a lost character


@dataclass(frozen=True)
class HandReaders:
    """The readers besides Tesseract: the digit model for each cell written by hand, and
    a second engine that has seen handwriting (PP-OCR) for a whole row, which is also
    the second opinion on any text field Tesseract is unsure of (``read_text``)."""

    digits: DigitReader
    line: OcrEngine


def cell_glyphs(ink: NDArray[np.bool_], span: tuple[int, int], cells: int) -> list[Glyph | None]:
    """Per comb cell, the extent of the ink in it (None: an empty cell)."""
    width = (span[1] - span[0]) / cells
    out: list[Glyph | None] = []
    for i in range(cells):
        c0, c1 = round(span[0] + i * width), round(span[0] + (i + 1) * width)
        part = ink[:, c0:c1]
        cols = np.flatnonzero(part.any(axis=0))
        if not len(cols):
            out.append(None)
            continue
        rows = np.flatnonzero(part.any(axis=1))
        out.append((c0 + int(cols[0]), c0 + int(cols[-1]) + 1, int(rows[0]), int(rows[-1]) + 1))
    return out


def _full(boxes: Sequence[Glyph]) -> tuple[list[Glyph], float]:
    """The glyphs of full height (not dashes, specks or stray strokes) and the median
    height of all."""
    scale = float(np.median([b[3] - b[2] for b in boxes]))
    return [b for b in boxes if b[3] - b[2] >= FRAGMENT * scale], scale


def looks_handwritten(glyphs: Sequence[Glyph | None]) -> bool:
    """The written cells' full glyphs differ in height or baseline as handwriting does
    (a dash or a speck beside typed digits is no hand)."""
    written = [g for g in glyphs if g is not None]
    if len(written) < 2:
        return False  # one glyph has nothing to differ from
    boxes, scale = _full(written)
    if scale < 6 or len(boxes) < 2:
        return False  # specks, not digits
    heights = np.array([b[3] - b[2] for b in boxes], dtype=np.float64)
    bottoms = np.array([b[3] for b in boxes], dtype=np.float64)
    spread = (heights.max() - heights.min()) / scale
    sag = (bottoms.max() - bottoms.min()) / scale
    return bool(spread > HAND_SPREAD or sag > HAND_SPREAD)


@dataclass(frozen=True)
class HandReading:
    text: str  # the model's digit per written cell, in order
    lowest: float  # the least sure cell's probability
    mean: float
    probability: float  # that every cell is right: the product
    # A cause for doubt the probabilities do not show: an empty cell between written
    # ones, a stray stroke read as a digit, a cell the model saw nothing in, or writing
    # outside the cells. Both readers would miss the same thing, so agreement cannot
    # vouch for it.
    doubt: bool


def read_cells(
    clean: Gray,
    ink: NDArray[np.bool_],
    span: tuple[int, int],
    glyphs: Sequence[Glyph | None],
    reader: DigitReader,
    pad: int = 2,
) -> HandReading | None:
    """Each written cell's glyph read by the digit model (None: no cell is written)."""
    at = [i for i, g in enumerate(glyphs) if g is not None]
    if not at:
        return None
    written = [g for g in glyphs if g is not None]
    _, scale = _full(written)
    outside = np.count_nonzero(ink[:, : span[0]]) + np.count_nonzero(ink[:, span[1] :])
    doubt = bool(at[-1] - at[0] + 1 > len(at) or outside > OUTSIDE_PX)
    h, w = clean.shape
    prepared, dashes = [], []
    for x0, x1, top, bottom in written:
        high = bottom - top
        dashes.append(high < DASH_HEIGHT * scale and x1 - x0 > high)
        if dashes[-1]:
            continue
        doubt |= bool(high < FRAGMENT * scale)  # a stray stroke, not a digit
        crop = clean[max(0, top - pad) : min(h, bottom + pad), max(0, x0 - pad) : min(w, x1 + pad)]
        prepared.append(to_mnist(crop))
        doubt |= not bool(prepared[-1].any())  # too faint for the model to see
    if not prepared:
        return None
    probs = reader.read_mnist(np.stack(prepared))
    best = probs.argmax(axis=1)
    top_p = probs[np.arange(len(best)), best].astype(np.float64)
    digits = iter(str(int(d)) for d in best)
    return HandReading(
        "".join("-" if dash else next(digits) for dash in dashes),
        float(top_p.min()),
        float(top_p.mean()),
        float(np.prod(top_p)),
        bool(doubt),
    )


def accepted(kind: str, ev: Evidence) -> bool:
    """A value read by hand goes through (issue 13's measured rule): with a checksum (it
    is checked in validate) when the second reader (PP-OCR) agrees or every cell is sure;
    without one, only when both hold. Agreement counts only where the page lost no ink
    (``calibration.agreement_counts``) and nothing else casts doubt."""
    if ev.hand_doubt:
        return False
    agree = agreement_counts(ev)
    sure = ev.engine_min >= HAND_SURE
    if kind == "checked":
        return agree or sure
    return agree and sure
