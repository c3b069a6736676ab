"""read_marks: checkboxes, options, signatures and barcodes, judged by the ink in a box.

A mark is the share of the box's inner area that holds ink once the form's print is
dropped out: marked above one level, clearly empty under another, unsure between. A
signature is presence only: enough ink, spread along the line. A barcode is decoded.
The distance from the decision band is the evidence the calibration judges.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pipeline.imaging import bbox_of, despeckle, ink_mask, paper_level
from pipeline.records import Evidence, FieldReading, Gray
from pipeline.stages.fieldcrop import Cut, Region
from pipeline.templates.schema import FieldSpec

MARK_ON, MARK_OFF = 0.05, 0.012  # ink share inside a box: marked / clearly empty
SIGNATURE_MIN_INK = 0.002  # share of the box; a signature is thin but long
SIGNATURE_MIN_SPAN = 0.08  # share of the box width its ink must cover


def _ink(cleaned: Gray, paper: float, min_area: int = 10) -> NDArray[np.bool_]:
    return despeckle(ink_mask(cleaned, paper), min_area)


def _mark_share(cleaned: Gray, inner: tuple[int, int, int, int], paper: float) -> float:
    x0, y0, x1, y1 = inner
    area = cleaned[y0:y1, x0:x1]
    if area.size == 0:
        return 0.0
    return float(np.count_nonzero(_ink(area, paper, 4))) / area.size


def mark_margin(share: float) -> float:
    """0 in the middle of the decision band, 1 at or beyond its edges."""
    mid = (MARK_ON + MARK_OFF) / 2
    half = (MARK_ON - MARK_OFF) / 2
    return min(1.0, abs(share - mid) / half)


def mark_confidence(share: float) -> float:
    """Near 1 far from the decision band, near 0.5 inside it (before calibration)."""
    return 0.5 + 0.49 * mark_margin(share)


def _evidence(margin: float, cut: Cut, quality: float) -> Evidence:
    return Evidence(margin=margin, page_quality=quality, local_fit=cut.fit)


def read_mark(spec: FieldSpec, cut: Cut, r: Region, quality: float) -> FieldReading:
    cleaned = cut.cleaned
    paper = max(paper_level(cleaned), 128.0)
    share = _mark_share(cleaned, r.inner(r.bounds()), paper)
    marked = share >= (MARK_ON + MARK_OFF) / 2
    return FieldReading(
        spec.name,
        spec.page,
        "X" if marked else "",
        share,
        marked,
        mark_confidence(share),
        evidence=_evidence(mark_margin(share), cut, quality),
    )


def read_signature(spec: FieldSpec, cut: Cut, r: Region, quality: float) -> FieldReading:
    """Presence only: enough ink, spread along the line, not a speck."""
    cleaned = cut.cleaned
    paper = max(paper_level(cleaned), 128.0)
    x0, y0, x1, y1 = r.inner(r.bounds(), shrink=0.04)
    ink = _ink(cleaned[y0:y1, x0:x1], paper, 20)
    share = float(np.count_nonzero(ink)) / max(ink.size, 1)
    box = bbox_of(ink)
    span = (box[2] - box[0]) / max(x1 - x0, 1) if box else 0.0
    present = share >= SIGNATURE_MIN_INK and span >= SIGNATURE_MIN_SPAN
    # Sure when far from the thresholds on both counts, unsure near them.
    margin = min(share / SIGNATURE_MIN_INK, span / SIGNATURE_MIN_SPAN)
    sure = min(1.0, abs(margin - 1.0) / 0.5 if present else 1 - min(margin, 1.0))
    return FieldReading(
        spec.name,
        spec.page,
        "X" if present else "",
        share,
        present,
        0.5 + 0.49 * sure,
        evidence=_evidence(sure, cut, quality),
    )


def read_choice(spec: FieldSpec, cut: Cut, r: Region, scale: float, quality: float) -> FieldReading:
    cleaned = cut.cleaned
    paper = max(paper_level(cleaned), 128.0)
    marked, margins, total = [], [], 0.0
    for opt in spec.options:
        o = Region.of(opt.box, scale)
        ox, oy = o.x - r.x + r.margin, o.y - r.y + r.margin
        share = _mark_share(cleaned, r.inner((ox, oy, ox + o.w, oy + o.h)), paper)
        total += share
        margins.append(mark_margin(share))
        if share >= (MARK_ON + MARK_OFF) / 2:
            marked.append(opt.value)
    least = min(margins) if margins else 0.0
    return FieldReading(
        spec.name,
        spec.page,
        ",".join(marked),
        total,
        bool(marked),
        0.5 + 0.49 * least,
        evidence=_evidence(least, cut, quality),
    )


def read_barcode(spec: FieldSpec, cut: Cut) -> FieldReading:
    """Decoded or not: a barcode's own checksum makes a decoded value sure."""
    import zxingcpp  # only templates with barcode fields pay for loading it

    found = zxingcpp.read_barcodes(cut.crop)
    paper = max(paper_level(cut.crop), 128.0)
    ratio = float(np.count_nonzero(_ink(cut.crop, paper))) / max(cut.crop.size, 1)
    if not found:
        inked = ratio > 0.01
        return FieldReading(spec.name, spec.page, "", ratio, inked, 0.0 if inked else 0.99)
    return FieldReading(spec.name, spec.page, found[0].text, ratio, True, 1.0)
