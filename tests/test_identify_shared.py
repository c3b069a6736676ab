"""A page printed alike in two forms (a continuation sheet) must not make a scan of one
form pass for the other: the page's own print decides when it differs (the form's name
and number in the sheet's header), the rest of the file when it does not, and otherwise
the page is left unidentified. Forms made by the project's generator: form A has a
template, form B shares its second page and has none.

What the print cannot tell: two sheets that differ only in a letter or a digit in the
same place ("A 100" against "B 200") are the same print to a scan's resolution; only
the rest of the file tells those apart.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.compose import build_matchers, open_context
from pipeline.config import Config, load_config
from pipeline.matching import Matcher
from pipeline.records import Gray, Page, Record
from pipeline.run import process_file
from pipeline.samplegen.build import g4_tiff, scanned_pdf, template_dict
from pipeline.samplegen.degrade import degrade
from pipeline.samplegen.forms import ORG, FormDef, PageBuilder, PageDef, all_forms
from pipeline.samplegen.random_forms import random_form
from pipeline.samplegen.render import filled_pdf, rasterize, reference_pdf
from pipeline.stages.identify import Catalog, build_catalog, identify_page, rests_on_shared_pages
from pipeline.stages.ingest import ingest
from pipeline.stages.normalize import normalize
from pipeline.templates.load import Template
from pipeline.templates.schema import TemplateSpec
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parent.parent


def sheet(title: str, code: str) -> PageDef:
    """A continuation sheet: a header with the form's title and number, one large box."""
    b = PageBuilder()
    b.header(ORG, f"Fortsättningsblad till {title.lower()}", code, 2, 2)
    b.note("Använd bladet om utrymmet i blanketten inte räcker. Ange fråga och svar.")
    b.section("Övriga upplysningar")
    b.row(("fortsattning", "text", "Fortsättning", 1), h=420)
    return b.page()


def two_forms(shared: PageDef | None = None) -> tuple[FormDef, FormDef]:
    """Forms A and B: a first page of their own each, then the sheet; with ``shared``
    that very page in both, else each prints its own title and number on it."""
    forms = []
    for name, seed, title, code in (
        ("a", 31, "Ansökan om bygglov", "SBF 1042"),
        ("b", 32, "Anmälan om ändrad adress", "KS 77"),
    ):
        own = random_form(seed).pages[0]
        forms.append(
            FormDef(
                id=f"blankett-{name}",
                title=title,
                code=code,
                version=1,
                pages=(own, shared or sheet(title, code)),
            )
        )
    return forms[0], forms[1]


def in_memory(form: FormDef) -> Template:
    refs = tuple(rasterize(reference_pdf(form)))
    spec = TemplateSpec.model_validate(template_dict(form))
    return Template(spec=spec, folder=Path("."), dpi=300, references=refs)


def filled(form: FormDef, rng: random.Random) -> list[Gray]:
    values: dict[str, str | bool] = {
        f.name: "Fortsätter på nästa blad, se fråga 4." for f in form.fields() if f.type == "text"
    }
    return rasterize(filled_pdf(form, values, rng))


def scan_file(tmp: Path, pages: list[Gray], rng: random.Random, level: str) -> Path:
    scans = [degrade(img, rng, level) for img in pages]
    if level == "fax":
        path = tmp / f"scan-{rng.random():.6f}.tif"
        path.write_bytes(g4_tiff([s[0] for s in scans], scans[0][2]))
    else:
        path = tmp / f"scan-{rng.random():.6f}.pdf"
        path.write_bytes(scanned_pdf([s[0] for s in scans]))
    return path


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config(ROOT / "config.yaml")


@pytest.fixture(scope="module")
def orb(cfg: Config) -> Matcher:
    return build_matchers(cfg)[0]


NUMBERED = two_forms()


def catalog_of(orb: Matcher, *forms: FormDef) -> Catalog:
    return build_catalog(tuple(in_memory(f) for f in (*forms, *all_forms())), orb)


@pytest.fixture(scope="module")
def only_a(orb: Matcher) -> Catalog:
    return catalog_of(orb, NUMBERED[0])


@pytest.fixture(scope="module")
def both(orb: Matcher) -> Catalog:
    return catalog_of(orb, *NUMBERED)


def sheet_scans(form: FormDef, level: str, cfg: Config, tmp: Path, n: int = 2) -> Iterator[Page]:
    rng = random.Random(f"{form.id}-{level}")
    for _ in range(n):
        path = scan_file(tmp, filled(form, rng)[1:], rng, level)
        (page,) = normalize(ingest(path, cfg.limits), cfg.normalize, cfg.limits)
        yield page


@pytest.mark.parametrize("level", ["office", "fax"])
def test_the_sheet_of_another_form_is_not_taken_for_the_template(
    level: str, cfg: Config, orb: Matcher, only_a: Catalog, tmp_path: Path
) -> None:
    """Only A has a template. B's sheet fits A's (features and ink: a layout alike to the
    last box, 98 % of A's print found) but lacks A's title and number: unidentified, and
    it says which page it resembles. A's own sheet is still A's."""
    a, b = NUMBERED
    for page in sheet_scans(b, level, cfg, tmp_path):
        v = identify_page(page, orb.detect(page.image), only_a, orb, cfg.identify)
        assert v.ident.template_id is None and v.ref is None and v.match is None
        assert v.differs is not None and (v.differs.template.id, v.differs.page) == (a.id, 2)
        assert v.ident.score >= cfg.identify.min_coverage  # the print alone is no help
    for page in sheet_scans(a, level, cfg, tmp_path):
        v = identify_page(page, orb.detect(page.image), only_a, orb, cfg.identify)
        assert (v.ident.template_id, v.ident.template_page) == (a.id, 2)
        assert v.differs is None


def test_an_operator_who_assigns_the_template_is_not_second_guessed(
    cfg: Config, orb: Matcher, only_a: Catalog, tmp_path: Path
) -> None:
    """An operator assigns A to B's sheet (say, a revision of A's): it is taken as A's,
    and the record is reviewed with the operator's choice on it."""
    a, b = NUMBERED
    for page in sheet_scans(b, "office", cfg, tmp_path, n=1):
        feats = orb.detect(page.image)
        v = identify_page(page, feats, only_a.only(a.id), orb, cfg.identify, assigned=True)
        assert (v.ident.template_id, v.ident.template_page) == (a.id, 2) and v.differs is None


@pytest.mark.parametrize("level", ["office", "fax"])
def test_with_both_templates_the_sheets_own_print_decides(
    level: str, cfg: Config, orb: Matcher, both: Catalog, tmp_path: Path
) -> None:
    """Both loaded, each sheet covers the other's print as well as its own (a tie on
    coverage alone, so both were unidentified); the one whose words are all there wins."""
    for form in NUMBERED:
        for page in sheet_scans(form, level, cfg, tmp_path):
            v = identify_page(page, orb.detect(page.image), both, orb, cfg.identify)
            assert (v.ident.template_id, v.ident.template_page) == (form.id, 2), v.ident


def test_an_incomplete_instance_among_unknown_pages_rests_on_shared_pages() -> None:
    a = TemplateSpec.model_validate(template_dict(NUMBERED[0]))
    # B's file: page 1 (B's own) unknown, page 2 taken for A's sheet.
    assert rests_on_shared_pages(a, [2], [2], unidentified=[1])
    assert rests_on_shared_pages(a, [1], [1], unidentified=[2])
    # A complete instance rests on its own pages, whatever else the file holds.
    assert not rests_on_shared_pages(a, [1, 2], [3, 4], unidentified=[1, 2, 5])
    # Nothing unknown next to it: a sheet scanned alone is A's with a page missing.
    assert not rests_on_shared_pages(a, [2], [2], unidentified=[])
    assert not rests_on_shared_pages(a, [2], [5], unidentified=[1, 2])
    # The sheet is optional: A's first page alone is complete.
    pages = [p.model_copy(update={"optional": p.number == 2}) for p in a.pages]
    optional_sheet = a.model_copy(update={"pages": tuple(pages)})
    assert not rests_on_shared_pages(optional_sheet, [1], [1], unidentified=[2])


def _records_of_b(forms: tuple[FormDef, FormDef], level: str, tmp_path: Path) -> list[Record]:
    a, b = forms
    cfg = make_config(tmp_path / "data")
    rng = random.Random(f"file-{level}")
    path = scan_file(tmp_path, filled(b, rng), rng, level)
    with open_context(cfg, templates=(in_memory(a),)) as ctx:
        return process_file(path, ctx)


@pytest.mark.tesseract
@pytest.mark.slow
@pytest.mark.parametrize("level", ["office", "fax"])
def test_a_scan_of_form_b_is_not_delivered_as_form_a(level: str, tmp_path: Path) -> None:
    records = _records_of_b(NUMBERED, level, tmp_path)
    assert records and all(r.template_id is None for r in records)
    assert sorted(p for r in records for p in r.pages) == [1, 2]


@pytest.mark.tesseract
@pytest.mark.slow
def test_a_scan_of_form_b_with_an_identical_sheet_is_not_delivered_as_form_a(
    tmp_path: Path,
) -> None:
    """The sheet is the very same print in both forms: only the file can tell. B's first
    page is no page of A's, and A's first page is missing: the sheet is unidentified."""
    records = _records_of_b(two_forms(shared=sheet("Blankett", "FB 1")), "office", tmp_path)
    assert records and all(r.template_id is None for r in records)
