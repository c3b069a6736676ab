"""extract: read every field region of an aligned page.

Only the field regions are warped (never the whole page). Each crop is nudged onto the
reference locally (the global homography can be a pixel or two off at the page edges),
then the form's own printed ink, taken from the aligned reference, is dropped out, so
labels, box lines and comb ticks are not read as data. Text goes to the OCR engine with
the template's hints; marks (checkboxes, options, signatures) are judged by how much ink
is left inside the box. The original crop is saved for the operator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.config import OcrConfig
from pipeline.fieldtypes import FIELD_TYPES
from pipeline.imaging import bbox_of, despeckle, downscale, ink_mask, pad_white, paper_level
from pipeline.ports import OcrEngine, OcrHints
from pipeline.records import Alignment, FieldReading, Gray, Page
from pipeline.templates.load import Template
from pipeline.templates.schema import FieldSpec

MARGIN_PT = 3.0  # context around a box: text overflows boxes, operators want to see it
SEARCH_PX = 6  # local re-alignment range, full-resolution pixels
DROPOUT_GROW_PX = 2  # printed ink is removed this far around the reference's strokes
MARK_ON, MARK_OFF = 0.05, 0.012  # ink share inside a box: marked / clearly empty
MIN_TEXT_INK_PX = 40  # less ink than a small digit at 300 dpi: the field is empty
DOT_PAPER = 1.25  # beside strokes, ink is darker than 0.6 * 1.25 = 0.75 of the paper
OVERLAP_DISTRUST = 0.01  # share of a field's ink that met printed ink: glyphs may be cut


@dataclass(frozen=True)
class ExtractContext:
    """What extraction needs besides the page: engine, OCR defaults, where crops go."""

    engine: OcrEngine
    ocr: OcrConfig
    crop_dir: Path | None


def hints_for(spec: FieldSpec, template: Template, ocr: OcrConfig) -> OcrHints:
    """The field's own OCR settings, else its type's defaults (pipeline.fieldtypes)."""
    kind = FIELD_TYPES[spec.type]
    if spec.ocr.lang:
        lang = spec.ocr.lang
    elif kind.lang == "numeric":
        lang = ocr.numeric_lang
    else:
        lang = template.spec.language or ocr.text_lang
    whitelist = spec.ocr.whitelist if spec.ocr.whitelist is not None else kind.whitelist
    return OcrHints(lang=lang, whitelist=whitelist, single_line=spec.ocr.single_line)


def extract(
    page: Page, alignment: Alignment, template: Template, template_page: int, ctx: ExtractContext
) -> list[FieldReading]:
    reference = template.references[template_page - 1]
    scale = template.scale()
    readings = []
    for spec in template.spec.page_fields(template_page):
        region = Region.of(spec.region, scale)
        crop, cleaned, dropped = _crop_and_drop(page.image, reference, alignment.homography, region)
        reader = FIELD_TYPES[spec.type].reader
        if reader == "choice":
            reading = _read_choice(spec, crop, cleaned, region, scale)
        elif reader == "mark":
            reading = _read_mark(spec, cleaned, region.inner(region.bounds()))
        elif reader == "signature":
            reading = _read_signature(spec, cleaned, region)
        elif reader == "barcode":
            reading = _read_barcode(spec, crop, cleaned, region)
        else:
            reading = _read_text(
                spec, crop, cleaned, dropped, region, hints_for(spec, template, ctx.ocr), ctx
            )
        if ctx.crop_dir is not None:
            ctx.crop_dir.mkdir(parents=True, exist_ok=True)
            # JPEG: ten times faster to write than PNG, and the scan was lossy anyway.
            path = ctx.crop_dir / f"p{template_page}-{spec.name}.jpg"
            cv2.imwrite(str(path), crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
            reading = FieldReading(**{**reading.__dict__, "crop": str(path)})
        readings.append(reading)
    return readings


@dataclass(frozen=True)
class Region:
    """A field box in reference pixels plus the context margin around it."""

    x: int
    y: int
    w: int
    h: int
    margin: int

    @classmethod
    def of(cls, box: tuple[float, float, float, float], scale: float) -> Region:
        x0, y0 = math.floor(box[0] * scale), math.floor(box[1] * scale)
        x1, y1 = math.ceil((box[0] + box[2]) * scale), math.ceil((box[1] + box[3]) * scale)
        return cls(x0, y0, x1 - x0, y1 - y0, round(MARGIN_PT * scale))

    def bounds(self) -> tuple[int, int, int, int]:
        """The box itself inside the crop (which starts ``margin`` before it)."""
        m = self.margin
        return m, m, m + self.w, m + self.h

    def inner(
        self, bounds: tuple[int, int, int, int], shrink: float = 0.15
    ) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = bounds
        dx, dy = round((x1 - x0) * shrink), round((y1 - y0) * shrink)
        return x0 + dx, y0 + dy, x1 - dx, y1 - dy


def _warp(image: Gray, h: NDArray[np.float64], x: int, y: int, w: int, hh: int) -> Gray:
    t = np.array([[1, 0, x], [0, 1, y], [0, 0, 1]], dtype=np.float64)
    out = cv2.warpPerspective(
        image,
        h @ t,
        (w, hh),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=255,
    )
    return out


def _ref_crop(reference: Gray, x: int, y: int, w: int, h: int) -> Gray:
    """The reference region, white where it runs off the page."""
    out = np.full((h, w), 255, dtype=np.uint8)
    rh, rw = reference.shape
    sx0, sy0 = max(x, 0), max(y, 0)
    sx1, sy1 = min(x + w, rw), min(y + h, rh)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y : sy1 - y, sx0 - x : sx1 - x] = reference[sy0:sy1, sx0:sx1]
    return out


def _crop_and_drop(
    image: Gray, reference: Gray, h: NDArray[np.float64], r: Region
) -> tuple[Gray, Gray, NDArray[np.bool_]]:
    """(the page's crop, the same crop with the form's printed ink dropped out)."""
    x, y = r.x - r.margin, r.y - r.margin
    w, hh = r.w + 2 * r.margin, r.h + 2 * r.margin
    ref = _ref_crop(reference, x, y, w, hh)
    s = SEARCH_PX
    wide = _warp(image, h, x - s, y - s, w + 2 * s, hh + 2 * s)
    # The reference is a clean render: anything not white is print, including the light
    # anti-aliased edges of thin lines (comb ticks at 0.6 pt never reach "dark").
    ref_ink: NDArray[np.bool_] = ref < 230
    dx = dy = s
    if np.count_nonzero(ref < 160) > 0.01 * ref_ink.size:
        # Nudge onto the printed structure; the filled-in ink rarely dominates it. At half
        # resolution: a quarter of the cost, and the dropout margin covers the rounding.
        score = cv2.matchTemplate(downscale(wide, 0.5), downscale(ref, 0.5), cv2.TM_CCOEFF_NORMED)
        _, best, _, loc = cv2.minMaxLoc(score)
        if best > 0.4:
            dx, dy = min(2 * loc[0], 2 * s), min(2 * loc[1], 2 * s)
    crop = np.ascontiguousarray(wide[dy : dy + hh, dx : dx + w])
    grow = 2 * DROPOUT_GROW_PX + 1
    drop = cv2.dilate(ref_ink.astype(np.uint8), np.ones((grow, grow), np.uint8)).astype(bool)
    cleaned = crop.copy()
    cleaned[drop] = 255
    return crop, cleaned, drop


def _ink(cleaned: Gray, paper: float, min_area: int = 10) -> NDArray[np.bool_]:
    return despeckle(ink_mask(cleaned, paper), min_area)


def _read_text(
    spec: FieldSpec,
    crop: Gray,
    cleaned: Gray,
    dropped: NDArray[np.bool_],
    r: Region,
    hints: OcrHints,
    ctx: ExtractContext,
) -> FieldReading:
    paper = max(paper_level(cleaned), 128.0)
    raw = ink_mask(cleaned, paper)
    strokes = despeckle(raw, 10)
    # Small blobs are noise, except beside strokes: the dots and rings of å, ä, ö, i and
    # j. At 7-8 pt, blurred by a scanner or thinned by a fax, a dot is two or three light
    # pixels, so beside strokes any size counts and a lighter grey (0.75 of the paper,
    # not 0.6) is ink; a lost dot turns "Jönsson" into "Jonsson" at high confidence.
    near = cv2.dilate(strokes.astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool)
    ink = strokes | (ink_mask(cleaned, DOT_PAPER * paper) & near)
    bx0, by0, bx1, by1 = r.bounds()
    # Keep blobs that touch the box; neighbours' text in the margin is not ours.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, dtype=bool)
    for i in range(1, n):
        cx, cy, cw, ch = stats[i, :4]
        if cx < bx1 and cx + cw > bx0 and cy < by1 and cy + ch > by0:
            keep[i] = True
    mine = keep[labels]
    # Accents and dots that stick out of a tight box belong to the letters below them.
    mine |= ink & cv2.dilate(mine.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    count = int(np.count_nonzero(mine))
    ratio = count / max(r.w * r.h, 1)
    # An absolute floor: a short word in a page-sized box is a tiny share of it.
    if count < MIN_TEXT_INK_PX:
        return FieldReading(spec.name, spec.page, "", ratio, False, 0.99)
    box = bbox_of(mine)
    assert box is not None
    x0, y0, x1, y1 = box
    # Everything that is not the field's ink becomes paper: noise and neighbours go.
    halo = cv2.dilate(mine.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    clean = np.where(halo, cleaned, 255).astype(np.uint8)
    if spec.ocr.comb:
        image = _compact_comb(clean, mine, (bx0, bx1), spec.ocr.comb)
    else:
        image = clean[y0:y1, x0:x1]
    result = ctx.engine.read(pad_white(image, 12), hints)
    text = result.text.strip()
    confidence = result.confidence if text else 0.0
    # Writing that runs into the form's own print (a descender on the underline) lost
    # the pixels dropout removed; the engine cannot know, so the reading is not trusted.
    touching = cv2.dilate(halo.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    overlap = np.count_nonzero(touching & dropped & (crop < 0.6 * paper)) / count
    if overlap > OVERLAP_DISTRUST:
        confidence = min(confidence, 0.7)
    return FieldReading(spec.name, spec.page, text, ratio, True, confidence)


def read_text_crop(crop: Gray, hints: OcrHints, ctx: ExtractContext, margin: int) -> FieldReading:
    """A text field read from ``crop``, which holds no printed form ink and ``margin``
    pixels of context around the box: the same cleanup and engine as a template's field
    (for benchmarks and tests of the cleanup)."""
    h, w = crop.shape
    region = Region(margin, margin, w - 2 * margin, h - 2 * margin, margin)
    spec = FieldSpec(name="field", page=1, box=(0.0, 0.0, float(w), float(h)))
    return _read_text(spec, crop, crop, np.zeros(crop.shape, dtype=bool), region, hints, ctx)


def _compact_comb(clean: Gray, ink: NDArray[np.bool_], span: tuple[int, int], cells: int) -> Gray:
    """One glyph per comb cell, set side by side at normal spacing.

    Characters spread over wide cells read badly as a line ("1 9 6 1" came back as
    "9 6 21"); packed together they read like any printed text. An empty cell between
    written ones is a space, and gets a word gap.
    """
    rows = np.flatnonzero(ink.any(axis=1))
    top, bottom = int(rows.min()), int(rows.max()) + 1
    height = bottom - top
    gap = np.full((height, max(4, height // 4)), 255, np.uint8)
    space = np.full((height, max(10, height)), 255, np.uint8)
    width = (span[1] - span[0]) / cells
    glyphs: list[Gray | None] = []
    for i in range(cells):
        c0, c1 = round(span[0] + i * width), round(span[0] + (i + 1) * width)
        cols = np.flatnonzero(ink[top:bottom, c0:c1].any(axis=0))
        glyphs.append(
            clean[top:bottom, c0 + int(cols.min()) : c0 + int(cols.max()) + 1]
            if len(cols)
            else None
        )
    written = [i for i, g in enumerate(glyphs) if g is not None]
    if not written:
        return clean[top:bottom, span[0] : span[1]]
    parts: list[Gray] = []
    for i in range(written[0], written[-1] + 1):
        g = glyphs[i]
        if g is None:
            if parts and parts[-1] is not space:
                parts[-1] = space
            continue
        parts += [g, gap]
    return np.hstack(parts[:-1])


def _mark_share(cleaned: Gray, inner: tuple[int, int, int, int], paper: float) -> float:
    x0, y0, x1, y1 = inner
    area = cleaned[y0:y1, x0:x1]
    if area.size == 0:
        return 0.0
    return float(np.count_nonzero(_ink(area, paper, 4))) / area.size


def mark_confidence(share: float) -> float:
    """Near 1 far from the decision band, near 0.5 inside it."""
    mid = (MARK_ON + MARK_OFF) / 2
    half = (MARK_ON - MARK_OFF) / 2
    return 0.5 + 0.49 * min(1.0, abs(share - mid) / half)


def _read_mark(spec: FieldSpec, cleaned: Gray, inner: tuple[int, int, int, int]) -> FieldReading:
    paper = max(paper_level(cleaned), 128.0)
    share = _mark_share(cleaned, inner, paper)
    marked = share >= (MARK_ON + MARK_OFF) / 2
    return FieldReading(
        spec.name, spec.page, "X" if marked else "", share, marked, mark_confidence(share)
    )


SIGNATURE_MIN_INK = 0.002  # share of the box; a signature is thin but long
SIGNATURE_MIN_SPAN = 0.08  # share of the box width its ink must cover


def _read_signature(spec: FieldSpec, cleaned: Gray, r: Region) -> FieldReading:
    """Presence only: enough ink, spread along the line, not a speck."""
    paper = max(paper_level(cleaned), 128.0)
    x0, y0, x1, y1 = r.inner(r.bounds(), shrink=0.04)
    ink = _ink(cleaned[y0:y1, x0:x1], paper, 20)
    share = float(np.count_nonzero(ink)) / max(ink.size, 1)
    box = bbox_of(ink)
    span = (box[2] - box[0]) / max(x1 - x0, 1) if box else 0.0
    present = share >= SIGNATURE_MIN_INK and span >= SIGNATURE_MIN_SPAN
    # Sure when far from the thresholds on both counts, unsure near them.
    margin = min(share / SIGNATURE_MIN_INK, span / SIGNATURE_MIN_SPAN)
    conf = 0.5 + 0.49 * min(1.0, abs(margin - 1.0) / 0.5 if present else 1 - min(margin, 1.0))
    return FieldReading(spec.name, spec.page, "X" if present else "", share, present, conf)


def _read_choice(
    spec: FieldSpec, crop: Gray, cleaned: Gray, r: Region, scale: float
) -> FieldReading:
    paper = max(paper_level(cleaned), 128.0)
    marked, confs, total = [], [], 0.0
    for opt in spec.options:
        o = Region.of(opt.box, scale)
        ox, oy = o.x - r.x + r.margin, o.y - r.y + r.margin
        share = _mark_share(cleaned, r.inner((ox, oy, ox + o.w, oy + o.h)), paper)
        total += share
        confs.append(mark_confidence(share))
        if share >= (MARK_ON + MARK_OFF) / 2:
            marked.append(opt.value)
    return FieldReading(spec.name, spec.page, ",".join(marked), total, bool(marked), min(confs))


def _read_barcode(spec: FieldSpec, crop: Gray, cleaned: Gray, r: Region) -> FieldReading:
    import zxingcpp  # only templates with barcode fields pay for loading it

    found = zxingcpp.read_barcodes(crop)
    paper = max(paper_level(crop), 128.0)
    ratio = float(np.count_nonzero(_ink(crop, paper))) / max(crop.size, 1)
    if not found:
        inked = ratio > 0.01
        return FieldReading(spec.name, spec.page, "", ratio, inked, 0.0 if inked else 0.99)
    return FieldReading(spec.name, spec.page, found[0].text, ratio, True, 1.0)
