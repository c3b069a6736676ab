"""identify on black-and-white (fax) scans of dense pages, made by the project's generator.

A dense page (many small lines of print, many boxes) printed in grey, as forms printed
in a colour are, loses part of its print in a 200-dpi black-and-white scan: against the
grey reference too little of the form is found, and the layout prefilter no longer puts
the right template first (before the bilevel twins, 6 of 12 such fax scans were left
unidentified at a 60 % grey and 11 of 12 at 50 %, none at office quality).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from pipeline.compose import build_matchers
from pipeline.config import Config, load_config
from pipeline.matching import Matcher, bilevel_twin, looks_bilevel
from pipeline.records import Gray, Page, frozen_image
from pipeline.samplegen.build import g4_tiff, scanned_pdf, template_dict
from pipeline.samplegen.degrade import degrade
from pipeline.samplegen.forms import (
    LEFT,
    ORG,
    PAGE_H,
    FormDef,
    PageBuilder,
    TextDef,
    all_forms,
    felanmalan,
)
from pipeline.samplegen.random_forms import _LABELS, _WORDS
from pipeline.samplegen.render import filled_pdf, rasterize, reference_pdf
from pipeline.stages.identify import Catalog, build_catalog, identify_page
from pipeline.stages.ingest import ingest
from pipeline.stages.normalize import normalize
from pipeline.templates.load import Template
from pipeline.templates.schema import TemplateSpec

ROOT = Path(__file__).resolve().parent.parent
GREY = 0.6  # the print's darkness: 60 % grey, as a form printed in a mid colour


def dense_form(seed: int, code: str | None = None) -> FormDef:
    """One page crowded to the foot with 5.5-pt notes, rows of 2-5 small boxes and
    checkbox rows, like the first page of many agencies' forms."""
    rng = random.Random(seed)
    title = f"{rng.choice(_WORDS)} om {rng.choice(_WORDS).lower()} {seed}"
    b = PageBuilder()
    b.header(ORG, title, code or f"D {2000 + seed}", 1, 1)
    n = 0
    while b.y < PAGE_H - 70:
        r = rng.random()
        if r < 0.3:
            for _ in range(rng.randint(2, 4)):
                words = " ".join(rng.choice(_LABELS).lower() for _ in range(rng.randint(12, 18)))
                b.texts.append(TextDef(LEFT, b.y + 6, words, 5.5))
                b.y += 7
            b.y += 2
        elif r < 0.45:
            boxes = [(f"c{n}_{i}", rng.choice(_LABELS)) for i in range(rng.randint(3, 8))]
            b.checks(*boxes, size=7.0, per_row=4)
        else:
            cells = [
                (f"f{n}_{i}", "text", rng.choice(_LABELS), rng.randint(1, 3))
                for i in range(rng.randint(2, 5))
            ]
            b.row(*cells, h=rng.choice([20.0, 22.0, 26.0]))
        n += 1
    return FormDef(
        id=f"tat-{seed}", title=title, code=code or f"D {2000 + seed}", version=1, pages=(b.page(),)
    )


def in_grey(img: Gray, darkness: float) -> Gray:
    """The same print in a lighter ink: black becomes ``1 - darkness`` of white."""
    out: Gray = (255 - (255 - img.astype(np.float32)) * darkness).astype(np.uint8)
    return out


def in_memory(form: FormDef, darkness: float = 1.0) -> Template:
    refs = tuple(frozen_image(in_grey(r, darkness)) for r in rasterize(reference_pdf(form)))
    spec = TemplateSpec.model_validate(template_dict(form))
    return Template(spec=spec, folder=Path("."), dpi=300, references=refs)


def scanned(tmp: Path, img: Gray, rng: random.Random, level: str, cfg: Config) -> Page:
    """``img`` degraded to ``level``, written as a scanner writes it (a Group 4 TIFF at
    200 dpi for a fax, a JPEG PDF otherwise) and read back by the pipeline's own
    ingest and normalize, at the working dpi."""
    scan, _, dpi = degrade(img, rng, level)
    path = tmp / f"scan-{rng.random():.6f}.{'tif' if level == 'fax' else 'pdf'}"
    path.write_bytes(g4_tiff([scan], dpi) if level == "fax" else scanned_pdf([scan]))
    (page,) = normalize(ingest(path, cfg.limits), cfg.normalize, cfg.limits)
    return page


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config(ROOT / "config.yaml")


@pytest.fixture(scope="module")
def orb(cfg: Config) -> Matcher:
    return build_matchers(cfg)[0]


DENSE = (dense_form(0), dense_form(1))


@pytest.fixture(scope="module")
def catalog(orb: Matcher) -> Catalog:
    """The dense forms, printed in grey, beside the project's own sample forms."""
    grey = tuple(in_memory(f, GREY) for f in DENSE)
    return build_catalog(grey + tuple(in_memory(f) for f in all_forms()), orb)


@pytest.mark.parametrize("level", ["office", "fax"])
def test_dense_page_printed_in_grey_is_identified(
    level: str, cfg: Config, orb: Matcher, catalog: Catalog, tmp_path: Path
) -> None:
    for form in DENSE:
        rng = random.Random(f"{form.id}-{level}")
        for _ in range(3):
            img = in_grey(rasterize(filled_pdf(form, {}, rng))[0], GREY)
            page = scanned(tmp_path, img, rng, level, cfg)
            feats = orb.detect(page.image)
            assert looks_bilevel(feats.image) == (level == "fax")
            v = identify_page(page, feats, catalog, orb, cfg.identify)
            assert (v.ident.template_id, v.ident.template_page) == (form.id, 1), v.ident
            assert v.ident.score >= cfg.identify.min_coverage and v.match is not None
            # At fax the fit is to what a black-and-white scan keeps of the page.
            assert v.ref is not None and (v.ref.origin is not None) == (level == "fax")


def test_a_fax_of_a_form_without_template_stays_unidentified(
    cfg: Config, orb: Matcher, catalog: Catalog, tmp_path: Path
) -> None:
    rng = random.Random(3)
    for form in (felanmalan(), dense_form(7)):
        img = rasterize(filled_pdf(form, {}, rng))[0]
        page = scanned(tmp_path, img, rng, "fax", cfg)
        v = identify_page(page, orb.detect(page.image), catalog, orb, cfg.identify)
        assert v.ident.template_id is None and v.ref is None and v.match is None


def test_bilevel_twin_keeps_what_a_black_and_white_scan_keeps() -> None:
    page = np.full((600, 600), 255, np.uint8)
    page[100:104, 50:550] = 0  # a 1-pt black rule
    page[300:304, 50:550] = 190  # the same in a light grey
    page[500:502, 50:550] = 120  # thin, in a mid grey: under half the paper once blurred
    twin = bilevel_twin(frozen_image(page), 300)
    assert twin.shape == page.shape
    assert twin[102, 300] == 0 and twin[302, 300] == 255 and twin[501, 300] == 255
    assert looks_bilevel(twin) and not looks_bilevel(np.full((80, 80), 240, np.uint8))
