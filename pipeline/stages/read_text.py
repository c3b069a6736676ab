"""read_text: a text field's ink, isolated and read by the OCR engine, with the evidence
its trust rests on.

The cleanup keeps what belongs to a glyph (dots and rings of å, ä, ö, i-dots, commas)
and drops noise and neighbours' text. The engine reads the field with the template's
hints. Where the calibrated probability of that reading is under its kind's threshold
(or its value breaks its type), the field is read a second way (another segmentation,
another scale) and the two readings vote: agreement is evidence, disagreement keeps it
in review. Swedish text is looked up in the word list, which restores a lost dot or
ring and confirms known words. Where the box cuts off the bottom of the letters (the
text's baseline sits on the box edge and no descender shows below it), g, j, p, q and
y cannot be told from a, i, o and v: the word list must vouch for such words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.calibration import BLANK, KIND_OF, TOUCHING, Trust
from pipeline.config import OcrConfig
from pipeline.imaging import bbox_of, despeckle, ink_mask, pad_white, paper_level
from pipeline.lexicon import CLIPPED_MARKS, CLIPPED_READS
from pipeline.ports import OcrEngine, OcrHints, OcrResult
from pipeline.records import Evidence, FieldReading, Gray
from pipeline.rules import check_type
from pipeline.stages.fieldcrop import Cut, Region
from pipeline.stages.read_hand import (
    HAND_KINDS,
    Glyph,
    HandReaders,
    cell_glyphs,
    looks_handwritten,
    read_cells,
)
from pipeline.templates.schema import FieldSpec

MIN_TEXT_INK_PX = 40  # less ink than a small digit at 300 dpi: the field is empty
DOT_PAPER = 1.25  # beside strokes, ink is darker than 0.6 * 1.25 = 0.75 of the paper
# Descenders reach 0.4-0.5 x-heights below the baseline in common fonts. A box with less
# room than DESCENT_ROOM below the baseline cannot show them whole (dropout also takes
# a row or two of ink beside the box line), and where no ink reaches DESCENT_SHOWN
# below it, none shows: what a g, j, p, q or y was is lost.
DESCENT_ROOM = 0.45
DESCENT_SHOWN = 0.3
# Where the rows between the baseline and the dropped-out box line leave STUB_SEEN of
# an x-height, a descender shows there as a stub (measured on real forms at office and
# fax); where none shows, the text has no g, j, p, q or y: nothing was cut. Ink STUB_PX
# rows or more under the baseline may be a stub: a baseline's own ragged edge reaches
# one row at office, two at fax, so a fax is given the benefit of no doubt.
STUB_SEEN = 0.15
STUB_PX = 2
SECOND_SCALE = 1.5  # the second reading sees the field larger


@dataclass(frozen=True)
class ExtractContext:
    """What extraction needs besides the page: engine, OCR defaults, where crops go, the
    calibration and word lists (None: no second readings and no word list), and the
    readers besides Tesseract: the digit model and PP-OCR, which also gives the second
    reading (None: Tesseract reads comb cells and reads again itself)."""

    engine: OcrEngine
    ocr: OcrConfig
    crop_dir: Path | None
    trust: Trust | None = None
    hand: HandReaders | None = None


def read_text(
    spec: FieldSpec,
    cut: Cut,
    r: Region,
    hints: OcrHints,
    ctx: ExtractContext,
    quality: float = 1.0,
) -> FieldReading:
    crop, cleaned, dropped = cut.crop, cut.cleaned, cut.dropped
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
    base = Evidence(local_fit=cut.fit, page_quality=quality, ink_px=count)
    # An absolute floor: a short word in a page-sized box is a tiny share of it.
    if count < MIN_TEXT_INK_PX:
        return FieldReading(spec.name, spec.page, "", ratio, False, 0.99, evidence=base)
    box = bbox_of(mine)
    assert box is not None
    base = replace(base, cut_off=_cut_off(mine, by1, dropped))
    x0, y0, x1, y1 = box
    # Everything that is not the field's ink becomes paper: noise and neighbours go.
    halo = cv2.dilate(mine.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    clean = np.where(halo, cleaned, 255).astype(np.uint8)
    glyphs = cell_glyphs(mine, (bx0, bx1), spec.ocr.comb) if spec.ocr.comb else []
    image = compact_comb(clean, mine, glyphs) if glyphs else clean[y0:y1, x0:x1]
    image = pad_white(image, 12)
    # Writing that runs into the form's own print (a descender on the underline) lost
    # the pixels dropout removed; the engine cannot know, the calibration weighs it.
    touching = cv2.dilate(halo.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    overlap = float(np.count_nonzero(touching & dropped & (crop < 0.6 * paper)) / count)
    first = ctx.engine.read(image, hints)
    text, ev = _judge(spec, first, replace(base, overlap=overlap), hints, ctx)
    hand = (
        read_cells(clean, mine, (bx0, bx1), glyphs, ctx.hand.digits)
        if ctx.hand is not None and KIND_OF.get(spec.type) in HAND_KINDS
        else None
    )
    if ctx.hand is not None and hand is not None and looks_handwritten(glyphs):
        line = ctx.hand.line.read(image, hints)
        agree = _same(spec.type, hand.text, line.text)
        # The second engine's own valid value, another one, is a rival the model must
        # not silence however sure it is.
        rival = not agree and not check_type(spec.type, line.text).issues
        ev = replace(
            ev,
            hand=True,
            hand_doubt=hand.doubt or rival,
            agree=agree,
            second_min=line.confidence,
            engine_min=hand.lowest,
            engine_mean=hand.mean,
            chars=len(hand.text),
        )
        return FieldReading(
            spec.name, spec.page, hand.text, ratio, True, hand.probability, evidence=ev
        )
    if ctx.trust is not None:
        text, ev = _second_opinion(spec, image, text, ev, hints, ctx, ctx.trust)
    if hand is not None and not _same(spec.type, hand.text, text):
        # A neat hand passes for print, and Tesseract reads it confidently wrong ("88333"
        # as "33323" at 0.999): the digit model reading otherwise keeps it from going
        # through.
        ev = replace(ev, agree=False, second_min=hand.lowest)
    return FieldReading(spec.name, spec.page, text, ratio, True, _raw(ev, text), evidence=ev)


def _raw(ev: Evidence, text: str) -> float:
    """The uncalibrated confidence: the weakest character, lowered for cut glyphs."""
    if not text:
        return 0.0
    return min(ev.engine_min, 0.7) if ev.overlap > TOUCHING else ev.engine_min


def _judge(
    spec: FieldSpec, result: OcrResult, base: Evidence, hints: OcrHints, ctx: ExtractContext
) -> tuple[str, Evidence]:
    """The reading's text (a lost mark restored from the word list) and its evidence."""
    text = result.text.strip()
    mean = result.mean_confidence if result.mean_confidence is not None else result.confidence
    ev = replace(
        base,
        engine_min=result.confidence if text else 0.0,
        engine_mean=mean if text else 0.0,
        chars=len(text.replace(" ", "")),
    )
    if KIND_OF.get(spec.type) != "text" or not text:
        return text, ev
    lexicon = ctx.trust.lexicons.get(hints.lang) if ctx.trust is not None else None
    if lexicon is not None:
        checked = lexicon.check(text, clipped=ev.cut_off)
        text = checked.text
        ev = replace(
            ev,
            words=checked.words,
            known=checked.known,
            compound=checked.compound,
            doubtful=checked.doubtful,
            restored=checked.restored,
            clipped=checked.clipped,
        )
    elif ev.cut_off:
        words = text.split()
        cut = sum(any(c in CLIPPED_READS or c in CLIPPED_MARKS for c in w) for w in words)
        ev = replace(ev, clipped=cut / len(words))
    return text, ev


def _cut_off(ink: NDArray[np.bool_], bottom: int, dropped: NDArray[np.bool_] | None = None) -> bool:
    """The box's bottom edge (row ``bottom``) cut off the text's descenders: the baseline
    sits on it, no ink reaches below the baseline as a whole descender would, and either
    some ink does (a cut descender) or the rows left between the baseline and the box
    line (``dropped``: the form's print taken out) are too few to show one."""
    rows = np.count_nonzero(ink, axis=1)
    # The last line of text: the rows after the last (nearly) empty row above its ink.
    inked = np.flatnonzero(rows > 0.05 * rows.max())
    breaks = np.flatnonzero(np.diff(inked) > 1)
    start = int(inked[breaks[-1] + 1]) if len(breaks) else int(inked[0])
    line = rows[start:]
    band = np.flatnonzero(line >= 0.4 * line.max())  # its x-height (or cap-height) band
    top, base = start + int(band[0]), start + int(band[-1])
    x_height = base - top + 1
    if x_height < 6:
        return False  # too small to judge
    room, shown = bottom - base, start + int(np.flatnonzero(line)[-1]) - base
    if room >= DESCENT_ROOM * x_height or shown >= DESCENT_SHOWN * x_height:
        return False  # a descender fits, or shows
    if shown >= STUB_PX:
        return True  # it shows cut short, or may
    return _seen_below(ink, dropped, base, bottom) < STUB_SEEN * x_height


def _seen_below(
    ink: NDArray[np.bool_], dropped: NDArray[np.bool_] | None, base: int, bottom: int
) -> int:
    """Rows under the baseline where ink could still be seen: down to the box edge or to
    the first row where dropout took most of the text's width (the box line)."""
    if dropped is None:
        return 0
    bottom = min(bottom, dropped.shape[0] - 1)  # no rows beyond the crop
    cols = np.flatnonzero(ink.any(axis=0))
    under = dropped[base + 1 : bottom + 1, int(cols.min()) : int(cols.max()) + 1]
    lined = np.flatnonzero(under.mean(axis=1) > 0.5)
    return int(lined[0]) if len(lined) else bottom - base


def _second_opinion(
    spec: FieldSpec,
    image: Gray,
    text: str,
    ev: Evidence,
    hints: OcrHints,
    ctx: ExtractContext,
    trust: Trust,
) -> tuple[str, Evidence]:
    """Read again where the first reading is not sure; vote.

    Only unsure fields pay for it, so a clean page costs what it did."""
    kind = KIND_OF.get(spec.type)
    if kind is None or kind == BLANK:
        return text, ev
    first_ok = not check_type(spec.type, text).issues
    if (
        first_ok
        and not trust.read_twice
        and (
            trust.sure(kind, trust.calibration.probability(kind, ev)) or _hopeless(kind, ev, trust)
        )
    ):
        return text, ev
    other_text, other_ev = _judge(spec, _read_again(image, hints, ctx), ev, hints, ctx)
    agree = _same(spec.type, text, other_text)
    second_min = other_ev.engine_min
    if not first_ok and not check_type(spec.type, other_text).issues:
        # The second reading makes a valid value of a broken one: it is the better
        # suggestion for the operator, and the disagreement keeps it in review.
        return other_text, replace(other_ev, agree=agree, second_min=ev.engine_min)
    if not agree and ctx.hand is not None and _better_suggestion(spec.type, text, other_text):
        # Where Tesseract and PP-OCR differ, PP-OCR was right more often on the
        # benchmark (docs/benchmarks.md): its reading is the suggestion the operator
        # sees, and the disagreement keeps it in review.
        return other_text, replace(other_ev, agree=agree, second_min=ev.engine_min)
    return text, replace(ev, agree=agree, second_min=second_min)


def _better_suggestion(field_type: str, first: str, second: str) -> bool:
    """PP-OCR's differing reading is put before the operator unless it is empty or
    breaks the type, or differs from Tesseract's only in marks: PP-OCR drops the ring of
    a capital Å, and the word list cannot put back a name's."""
    if not second or check_type(field_type, second).issues:
        return False
    return _bare(first) != _bare(second)


def _bare(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _read_again(image: Gray, hints: OcrHints, ctx: ExtractContext) -> OcrResult:
    """The second reading: PP-OCR, another engine, whose errors are not Tesseract's (on
    the benchmark four in five values the two read differently were wrong, against two
    in five with Tesseract read again); without it, or for a box of several lines (its
    recogniser reads one), Tesseract at 1.5x in raw-line mode."""
    if ctx.hand is not None and hints.single_line:
        return ctx.hand.line.read(image, hints)
    big = cv2.resize(image, None, fx=SECOND_SCALE, fy=SECOND_SCALE, interpolation=cv2.INTER_CUBIC)
    return ctx.engine.read(big, replace(hints, second=True))


def _hopeless(kind: str, ev: Evidence, trust: Trust) -> bool:
    """A valid value that goes to review whatever a second reading says: a word that hangs
    on a dot or a cut descender, or too weak a first reading for even a perfect second
    one to lift it to acceptance. Reading it again would cost time and change nothing."""
    if ev.doubtful > 0 or ev.clipped > 0:
        return True
    best = max(
        trust.calibration.probability(kind, replace(ev, agree=True, second_min=m))
        for m in (0.0, 1.0)  # the fit weighs the second's confidence either way
    )
    return best < trust.threshold_for(kind, replace(ev, agree=True))


_SPACES = re.compile(r"\s+")
# What a raw-line reading makes of a speck at either end of a value: a quote, a comma,
# and (outside free text, where a full stop can end an abbreviation) a full stop.
SPECKS = "'\"‘’`,"
SPECKS_DIGITS = SPECKS + "."


def _same(field_type: str, a: str, b: str) -> bool:
    """The second reading ``b`` gives the first one's value ``a`` (typed fields compare
    normalized values). It may add specks at the ends, which the first did not read."""
    b = b.strip().strip(SPECKS if KIND_OF.get(field_type) == "text" else SPECKS_DIGITS)
    ca, cb = check_type(field_type, a), check_type(field_type, b)
    if not ca.issues and not cb.issues:
        return ca.value == cb.value
    return _SPACES.sub(" ", a).strip() == _SPACES.sub(" ", b).strip()


def read_text_crop(crop: Gray, hints: OcrHints, ctx: ExtractContext, margin: int) -> FieldReading:
    """A text field read from ``crop``, which holds no printed form ink and ``margin``
    pixels of context around the box: the same cleanup and engine as a template's field
    (for benchmarks and tests of the cleanup)."""
    h, w = crop.shape
    region = Region(margin, margin, w - 2 * margin, h - 2 * margin, margin)
    spec = FieldSpec(name="field", page=1, box=(0.0, 0.0, float(w), float(h)))
    cut = Cut(crop, crop, np.zeros(crop.shape, dtype=bool))
    return read_text(spec, cut, region, hints, ctx)


def compact_comb(clean: Gray, ink: NDArray[np.bool_], glyphs: list[Glyph | None]) -> Gray:
    """One glyph per comb cell (``glyphs``: ``read_hand.cell_glyphs``), set side by side
    at normal spacing.

    Characters spread over wide cells read badly as a line ("1 9 6 1" came back as
    "9 6 21"); packed together they read like any printed text. An empty cell between
    written ones is a space, and gets a word gap.
    """
    rows = np.flatnonzero(ink.any(axis=1))
    top, bottom = int(rows.min()), int(rows.max()) + 1
    height = bottom - top
    gap = np.full((height, max(4, height // 4)), 255, np.uint8)
    space = np.full((height, max(10, height)), 255, np.uint8)
    written = [i for i, g in enumerate(glyphs) if g is not None]
    if not written:
        return clean[top:bottom]
    parts: list[Gray] = []
    for i in range(written[0], written[-1] + 1):
        g = glyphs[i]
        if g is None:
            if parts and parts[-1] is not space:
                parts[-1] = space
            continue
        parts += [clean[top:bottom, g[0] : g[1]], gap]
    return np.hstack(parts[:-1])
