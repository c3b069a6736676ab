"""identify, align and extract on pages made by the project's own generator."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from pipeline.context import Context
from pipeline.records import Page, frozen_image
from pipeline.samplegen.build import fill
from pipeline.samplegen.degrade import ScanStyle, scan_like
from pipeline.samplegen.forms import felanmalan, forskola, parkering
from pipeline.samplegen.render import filled_pdf, rasterize
from pipeline.stages.align import align
from pipeline.stages.extract import ExtractContext, extract
from pipeline.stages.identify import identify


def scans(form, seed: int, style: ScanStyle):
    rng = random.Random(seed)
    values = fill(form, rng)
    clean = rasterize(filled_pdf(form, values, rng))
    return values, [scan_like(img, rng, style) for img in clean]


def as_page(img: np.ndarray, number: int = 1) -> Page:
    return Page(
        number=number, image=frozen_image(img.copy()), dpi=300, blank=False, source="raster"
    )


@pytest.mark.tesseract
@pytest.mark.parametrize("upside_down", [False, True])
def test_identify_and_align_match_the_true_transform(ctx: Context, upside_down: bool):
    _, pages = scans(forskola(), 3, ScanStyle(upside_down=upside_down))
    for number, (img, truth) in enumerate(pages, start=1):
        page = as_page(img, number)
        feats = ctx.orb.detect(page.image)
        ident, match, ref = identify(page, feats, ctx.catalog, ctx.orb, ctx.cfg.identify)
        assert (ident.template_id, ident.template_page) == ("forskoleplats", number)
        assert ident.rotation == (180 if upside_down else 0)
        assert ident.score > 0.9 and ident.score - ident.runner_up > 0.3
        assert match is not None and ref is not None
        al = align(page.image, feats, ref, match, ident.score, ctx.cfg.align, ctx.sift)
        assert al.quality > 0.9
        if upside_down:
            h, w = img.shape
            turn = np.array([[-1, 0, w - 1], [0, -1, h - 1], [0, 0, 1]], np.float64)
            truth = turn @ truth
        # Every field corner lands within 3 px of where the true transform puts it.
        corners = []
        for f in ref.template.spec.page_fields(number):
            x, y, bw, bh = (v * 300 / 72 for v in f.region)
            corners += [(x, y), (x + bw, y + bh)]
        pts = np.array(corners, np.float64).reshape(-1, 1, 2)
        err = cv2.perspectiveTransform(pts, al.homography) - cv2.perspectiveTransform(pts, truth)
        assert float(np.abs(err).max()) < 3.0


@pytest.mark.tesseract
def test_unknown_form_is_unidentified(ctx: Context):
    _, pages = scans(felanmalan(), 4, ScanStyle())
    page = as_page(pages[0][0])
    ident, match, ref = identify(
        page, ctx.orb.detect(page.image), ctx.catalog, ctx.orb, ctx.cfg.identify
    )
    assert ident.template_id is None and match is None and ref is None
    assert ident.score < ctx.cfg.identify.min_coverage


@pytest.mark.tesseract
def test_extract_reads_marks_text_and_drops_the_printed_form(ctx: Context, tmp_path):
    form = parkering()
    values, pages = scans(form, 5, ScanStyle())
    page = as_page(pages[0][0])
    feats = ctx.orb.detect(page.image)
    ident, match, ref = identify(page, feats, ctx.catalog, ctx.orb, ctx.cfg.identify)
    assert match is not None and ref is not None
    al = align(page.image, feats, ref, match, ident.score, ctx.cfg.align, ctx.sift)
    ectx = ExtractContext(ctx.engine, ctx.cfg.ocr, tmp_path / "crops")
    got = {r.name: r for r in extract(page, al, ref.template, 1, ectx)}
    for name in ("galler_forare", "galler_passagerare", "ny_ansokan", "fornyelse"):
        assert got[name].inked == bool(values[name]), name
        assert got[name].confidence > 0.9
    assert got["namnteckning"].inked
    assert got["efternamn"].text == values["efternamn"]
    # Empty optional fields: the printed label was dropped out, nothing is left to read.
    for name in ("tidigare_nummer", "tidigare_giltigt"):
        if not values.get(name):
            assert got[name].text == "" and not got[name].inked
    crop = cv2.imread(got["efternamn"].crop, cv2.IMREAD_GRAYSCALE)
    assert crop is not None and crop.shape[0] > 100


@pytest.mark.tesseract
def test_blank_form_reads_nothing(ctx: Context, tmp_path):
    """A printed but unfilled form: labels, lines and comb ticks are not data."""
    form = forskola()
    rng = random.Random(9)
    clean = rasterize(filled_pdf(form, {}, rng))
    for number, img in enumerate(clean, start=1):
        page = as_page(scan_like(img, rng, ScanStyle())[0], number)
        feats = ctx.orb.detect(page.image)
        ident, match, ref = identify(page, feats, ctx.catalog, ctx.orb, ctx.cfg.identify)
        assert match is not None and ref is not None
        al = align(page.image, feats, ref, match, ident.score, ctx.cfg.align, ctx.sift)
        readings = extract(
            page, al, ref.template, number, ExtractContext(ctx.engine, ctx.cfg.ocr, None)
        )
        inked = [r.name for r in readings if r.inked]
        assert inked == []


@pytest.mark.tesseract
def test_sift_fallback_aligns_as_well(ctx: Context):
    """With the fallback forced, SIFT is tried and the better transform kept."""
    _, pages = scans(parkering(), 6, ScanStyle())
    page = as_page(pages[0][0])
    feats = ctx.orb.detect(page.image)
    ident, match, ref = identify(page, feats, ctx.catalog, ctx.orb, ctx.cfg.identify)
    assert match is not None and ref is not None
    forced = ctx.cfg.align.model_copy(update={"sift_fallback_inliers": 100_000})
    al = align(page.image, feats, ref, match, ident.score, forced, ctx.sift)
    assert al.method in ("orb", "sift")
    assert al.quality >= ident.score > 0.9


def test_barcode_field_is_decoded(tmp_path):
    import zxingcpp

    from pipeline.stages.fieldcrop import Cut
    from pipeline.stages.read_marks import read_barcode
    from pipeline.templates.schema import FieldSpec

    code = zxingcpp.create_barcode("BLK-2210-0042", zxingcpp.BarcodeFormat.QRCode)
    qr = np.asarray(code.to_image(scale=6), dtype=np.uint8)
    crop = np.full((qr.shape[0] + 80, qr.shape[1] + 80), 245, np.uint8)
    crop[40:-40, 40:-40] = qr
    spec = FieldSpec(name="arende", page=1, type="barcode", box=(10, 10, 60, 60))
    none = np.zeros(crop.shape, dtype=bool)
    reading = read_barcode(spec, Cut(crop, crop, none))
    assert reading.text == "BLK-2210-0042" and reading.inked and reading.confidence == 1.0
    empty = np.full_like(crop, 245)
    assert not read_barcode(spec, Cut(empty, empty, none)).inked
