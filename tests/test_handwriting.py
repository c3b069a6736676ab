"""Digits written by hand in comb boxes (issue 13): told from typed ones by their shapes,
read by the digit model, let through only on the measured rule, never confidently wrong.

The handwriting is MNIST's test digits, which the model never trained on, put into the
generator's own forms (``samplegen.hand.Pen``).
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

import cv2
import numpy as np
import pytest

from pipeline.context import Context
from pipeline.digits import DigitReader
from pipeline.records import Evidence, Page, frozen_image
from pipeline.samplegen.build import fill
from pipeline.samplegen.degrade import ScanStyle, scan_like
from pipeline.samplegen.forms import forskola
from pipeline.samplegen.hand import Pen
from pipeline.samplegen.render import filled_pdf, rasterize
from pipeline.stages.align import align
from pipeline.stages.extract import ExtractContext, extract
from pipeline.stages.identify import identify
from pipeline.stages.read_hand import accepted, cell_glyphs, looks_handwritten, read_cells
from pipeline.stages.validate import validate

FIELD = "barn_personnummer"  # forskola's comb of 12 cells


def test_typed_glyphs_share_a_height_and_a_baseline():
    typed = [(10 * i, 10 * i + 8, 20, 50 + i % 2) for i in range(10)]
    assert not looks_handwritten(typed)
    hand = [(10 * i, 10 * i + 8, 20 + 3 * (i % 3), 50 + 4 * (i % 2)) for i in range(10)]
    assert looks_handwritten(hand)
    assert not looks_handwritten([hand[0], None, None])  # one glyph: nothing to compare
    # A dash or a speck beside typed digits is no hand.
    assert not looks_handwritten([*typed[:6], (70, 78, 33, 37), *typed[7:]])


def test_a_value_by_hand_goes_through_only_on_the_rule():
    sure = Evidence(engine_min=0.95, hand=True, agree=False)
    unsure = Evidence(engine_min=0.6, hand=True, agree=True)
    # A checksum carries a sure model or an agreement with Tesseract ...
    assert accepted("checked", sure) and accepted("checked", unsure)
    assert not accepted("checked", Evidence(engine_min=0.6, hand=True, agree=False))
    # ... without one, it takes both.
    assert not accepted("digits", sure) and not accepted("digits", unsure)
    assert accepted("digits", Evidence(engine_min=0.95, hand=True, agree=True))


def test_doubt_that_agreement_cannot_lift():
    sure = Evidence(engine_min=0.95, hand=True, agree=True)
    assert accepted("digits", sure)
    # A lost cell, a stray stroke, Tesseract's own other valid value: not through.
    assert not accepted("checked", replace(sure, hand_doubt=True))
    # Strokes dropout took with the cell lines are lost to both readers alike.
    assert not accepted("digits", replace(sure, overlap=0.05))
    assert accepted("checked", replace(sure, overlap=0.05))  # the model alone is sure


def _comb(*cells: str) -> tuple[np.ndarray, np.ndarray]:
    clean = np.full((60, 40 * len(cells)), 235, np.uint8)
    for i, ch in enumerate(cells):
        if ch == ".":
            cv2.circle(clean, (40 * i + 20, 45), 2, 30, -1)
        elif ch:
            cv2.putText(clean, ch, (40 * i + 8, 48), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 30, 3)
    return clean, clean < 128


def test_a_lost_cell_or_a_stray_stroke_is_doubt():
    reader = DigitReader.load()
    for cells, doubt in ((("2", "3", "4"), False), (("2", "", "4"), True), (("2", ".", "4"), True)):
        clean, ink = _comb(*cells)
        glyphs = cell_glyphs(ink, (0, clean.shape[1]), len(cells))
        hand = read_cells(clean, ink, (0, clean.shape[1]), glyphs, reader)
        assert hand is not None and hand.doubt is doubt, cells
    clean, ink = _comb("2", "3", "4")
    assert read_cells(clean, ink, (0, 80), cell_glyphs(ink, (0, 80), 2), reader).doubt  # ink beyond


def _read(ctx: Context, seed: int, hand: bool):
    form = forskola()
    rng = random.Random(seed)
    values = fill(form, rng)
    pen = Pen(random.Random(seed)) if hand else None
    clean = rasterize(filled_pdf(form, values, rng, hand=pen))[0]
    img, _ = scan_like(clean, rng, ScanStyle())
    page = Page(number=1, image=frozen_image(img), dpi=300, blank=False, source="raster")
    feats = ctx.orb.detect(page.image)
    ident, match, ref = identify(page, feats, ctx.catalog, ctx.orb, ctx.cfg.identify)
    assert match is not None and ref is not None
    al = align(page.image, feats, ref, match, ident.score, ctx.cfg.align, ctx.sift)
    ectx = ExtractContext(ctx.engine, ctx.cfg.ocr, None, ctx.trust, ctx.hand)
    readings = extract(page, al, ref.template, 1, ectx)
    fields, _, _ = validate(ref.template.spec, readings, {1: al.quality}, ctx.cfg.align, ctx.trust)
    reading = next(r for r in readings if r.name == FIELD)
    result = next(f for f in fields if f.name == FIELD)
    return values[FIELD], reading, result


@pytest.mark.tesseract
def test_a_personnummer_written_by_hand_is_read_by_the_digit_model(ctx: Context):
    right = through = 0
    for seed in range(6):
        truth, reading, result = _read(ctx, seed, hand=True)
        assert reading.evidence is not None and reading.evidence.hand, seed
        right += reading.text == truth
        if not result.needs_review:
            through += 1
            got = re.sub(r"\D", "", str(result.value))
            assert got == truth, f"seed {seed}: a wrong value went through"
    assert right >= 5  # MNIST test digits, 12 per field: 99 % per digit
    assert through >= 4


@pytest.mark.tesseract
def test_a_typed_personnummer_stays_with_tesseract(ctx: Context):
    for seed in range(2):
        truth, reading, _ = _read(ctx, seed, hand=False)
        assert reading.evidence is not None and not reading.evidence.hand
        assert reading.text.replace("-", "") == truth.replace("-", "")


def test_the_second_reader_reads_a_row_of_digits_with_no_network(monkeypatch):
    import requests

    from pipeline.adapters.rapidocr_engine import RapidOcrEngine
    from pipeline.ports import OcrHints

    def offline(*args: object, **kwargs: object) -> None:
        raise AssertionError("rapidocr tried the network")

    monkeypatch.setattr(requests, "get", offline)
    monkeypatch.setattr(requests.Session, "request", offline)
    row = np.full((64, 330), 240, np.uint8)
    cv2.putText(row, "4711 0815", (10, 46), cv2.FONT_HERSHEY_SIMPLEX, 1.3, 25, 3)
    engine = RapidOcrEngine()  # the model inside the wheel, named by its path
    got = engine.read(row, OcrHints(lang="swe", whitelist="0123456789"))
    assert got.text.replace(" ", "") == "47110815" and got.confidence > 0.5


def test_the_second_reader_survives_a_very_wide_line_and_folds_look_alikes():
    from types import SimpleNamespace

    from pipeline.adapters.rapidocr_engine import RapidOcrEngine
    from pipeline.ports import OcrHints

    engine = RapidOcrEngine()
    void = np.full((32, 4900), 245, np.uint8)  # a field voided with a line across it
    void[14:17, 20:4880] = 30
    assert engine.read(void, OcrHints(lang="swe")).confidence >= 0.0  # no crash
    # In a digits field its O and fullwidth dash are ours; a letter stays a letter, so
    # it shows as a disagreement instead of vanishing.
    engine._ocr = lambda *a, **k: SimpleNamespace(txts=("1O－5x",), scores=(0.9,))
    assert engine.read(void, OcrHints(lang="swe", whitelist="0123456789-")).text == "10-5x"
