"""Text in a box that cuts off its descenders (issue 11): a fillable PDF's field drawn
too low for its font prints "Göteborg" as "Götebora". The reading notices the cut (the
baseline on the box edge, no descender below it), the word list restores the words it
knows, and what it cannot vouch for goes to review as ``descenders_cut``."""

from __future__ import annotations

import io

import numpy as np
import pytest

from pipeline import calibration, lexicon
from pipeline.calibration import KINDS, Trust
from pipeline.compose import ENGINES
from pipeline.config import AlignConfig, Config
from pipeline.issues import IssueCode
from pipeline.ports import OcrHints
from pipeline.records import Evidence, FieldReading, Gray
from pipeline.stages.read_text import ExtractContext, _cut_off, read_text_crop
from pipeline.stages.validate import CLIPPED_CAP, validate
from pipeline.templates.schema import TemplateSpec

DPI = 300
MARGIN = 12


@pytest.fixture(scope="module")
def swedish() -> lexicon.Lexicon:
    return lexicon.load(Config().ocr.tessdata, "swe")


def test_a_box_edge_on_the_baseline_cuts_descenders():
    ink = np.zeros((60, 200), bool)
    ink[20:40, 10:190:4] = True  # x-height strokes, baseline at row 39
    assert _cut_off(ink, bottom=41)  # the box ends two rows under the baseline
    assert not _cut_off(ink, bottom=55)  # room for a descender below
    deep = ink.copy()
    deep[40:48, 50] = True  # a whole descender shows: nothing was cut
    assert not _cut_off(deep, bottom=41)
    # Rows for a stub of a descender between the baseline and the box line dropout took,
    # and none shows: no letter has one, nothing was cut. A stub there was cut, and so
    # was the text where dropout took the rows right under the baseline.
    line = np.zeros_like(ink)
    line[45:49] = True
    assert not _cut_off(ink, bottom=47, dropped=line)
    stub = ink.copy()
    stub[40:43, 50] = True
    assert _cut_off(stub, bottom=47, dropped=line)
    high = np.zeros_like(ink)
    high[40:49] = True
    assert _cut_off(ink, bottom=47, dropped=high)
    # Two lines: only the last one's baseline counts.
    two = np.zeros((100, 200), bool)
    two[10:30, 10:190:4] = True
    two[50:70, 10:190:4] = True
    assert _cut_off(two, bottom=71) and not _cut_off(two, bottom=90)


@pytest.mark.tesseract
def test_the_word_list_restores_clipped_letters_only_in_a_clipped_box(swedish):
    assert swedish.check("Götebora", clipped=True).text == "Göteborg"
    assert swedish.check("Götebora").text == "Götebora"  # an uncut box: read as written
    fixed = swedish.check("Östen Siöaren", clipped=True)  # j -> i and g -> a at once
    assert fixed.text == "Östen Sjögren" and fixed.restored and fixed.clipped == 0.0
    # Maria or Marja: both names, the cut j cannot be told from i.
    assert swedish.check("Maria", clipped=True).clipped == 1.0
    assert swedish.check("Maria").clipped == 0.0
    # A word the list does not know, with a letter a cut descender may have made.
    assert swedish.check("Xqzva", clipped=True).clipped == 1.0
    # No letter a cut can change: nothing to doubt.
    assert swedish.check("Sten Eks", clipped=True).clipped == 0.0
    # A full stop may be a comma that lost its tail ("Hämäläinen, Göran").
    assert swedish.check("Sten. Eks", clipped=True).clipped == 0.5
    assert swedish.check("Sten. Eks").clipped == 0.0


def _word_in_box(word: str, room_pt: float) -> Gray:
    """``word`` in 10 pt Helvetica, printed clipped to a box whose bottom edge lies
    ``room_pt`` under the baseline, as PDFium prints a filled field; the box's crop with
    ``MARGIN`` pixels around it."""
    from reportlab.pdfgen import canvas

    from pipeline.pdfrender import render_pages

    x, bottom, w, h = 40.0, 700.0, 160.0, 11.0
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(300, 800))
    c.saveState()
    p = c.beginPath()
    p.rect(x, bottom, w, h)
    c.clipPath(p, stroke=0, fill=0)
    c.setFont("Helvetica", 10)
    c.drawString(x + 2, bottom + room_pt, word)
    c.restoreState()
    c.save()
    page = render_pages(buf.getvalue(), DPI)[0]
    s = DPI / 72
    top = round((800 - bottom - h) * s)
    return page[
        top - MARGIN : round((800 - bottom) * s) + MARGIN,
        round(x * s) - MARGIN : round((x + w) * s) + MARGIN,
    ]


@pytest.mark.tesseract
def test_a_clipped_field_is_restored_or_sent_to_review(swedish):
    cfg = Config()
    engine = ENGINES[cfg.ocr.kind](cfg.ocr, DPI)
    trust = Trust(calibration.load(), calibration.load().thresholds(0.003), {"swe": swedish})
    ctx = ExtractContext(engine, cfg.ocr, None, trust)
    hints = OcrHints(lang="swe", whitelist=None, single_line=True)
    try:
        roomy = read_text_crop(_word_in_box("Göteborg", 3.0), hints, ctx, MARGIN)
        cut = read_text_crop(_word_in_box("Göteborg", 0.3), hints, ctx, MARGIN)
        unknown = read_text_crop(_word_in_box("Algy Pyggs", 0.3), hints, ctx, MARGIN)
    finally:
        engine.close()
    assert roomy.text == "Göteborg" and roomy.evidence and not roomy.evidence.cut_off
    assert cut.evidence is not None and cut.evidence.cut_off
    assert cut.text == "Göteborg"  # the list knows the city
    assert unknown.evidence is not None and unknown.evidence.clipped > 0


def test_a_value_that_hangs_on_a_cut_descender_needs_review():
    spec = TemplateSpec.model_validate(
        {
            "id": "t",
            "pages": [{"number": 1, "image": "p.png", "width": 595, "height": 842}],
            "fields": [{"name": "n", "page": 1, "type": "text", "box": [40, 40, 200, 12]}],
        }
    )
    ev = Evidence(engine_min=0.99, engine_mean=0.99, chars=8, words=1, cut_off=True, clipped=1.0)
    r = FieldReading("n", 1, "Xqzva", 0.1, True, 0.99, evidence=ev)
    trust = Trust(calibration.load(), dict.fromkeys(KINDS, 0.5), {})
    fields, _, _ = validate(spec, [r], {1: 1.0}, AlignConfig(), trust)
    assert fields[0].needs_review and IssueCode.DESCENDERS_CUT in fields[0].issues
    assert fields[0].confidence <= CLIPPED_CAP
