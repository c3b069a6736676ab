"""Template authoring: import from fillable PDFs made by the project's own generator,
re-import and versions, checks and overlays, and the template test command."""

from __future__ import annotations

import io
import random
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, NameObject, TextStringObject
from reportlab.pdfgen.canvas import Canvas

from pipeline.compose import open_context
from pipeline.evaluate import expected_for, mark_fields, score_file, summarize
from pipeline.run import process_file
from pipeline.samplegen.build import generate_corpus
from pipeline.samplegen.forms import FieldDef, forskola, parkering
from pipeline.samplegen.render import blank_pdf
from pipeline.templates.acroform import read_acroform
from pipeline.templates.check import check_template, overlay
from pipeline.templates.importer import import_pdf
from pipeline.templates.load import load_template, load_templates
from tests.conftest import make_config


def _pdf(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_import_reads_kinds_flags_and_guesses_types(tmp_path: Path):
    pdf = _pdf(tmp_path, "forskola.pdf", blank_pdf(forskola()))
    report = import_pdf(pdf, "forskola", tmp_path / "templates")
    t = load_template(report.folder, 300)
    by = {f.name: f for f in t.spec.fields}
    assert len(by) == len(forskola().fields())
    expected_types = {
        "barn_personnummer": "personnummer",
        "vh_personnummer": "personnummer",
        "vh_postnummer": "postnummer",
        "vh_telefon": "phone",
        "vh_epost": "email",
        "startdatum": "date",
        "datum": "date",
        "inkomst": "amount",
        "bankgiro": "bankgiro",
        "arbetsgivare_orgnr": "organisationsnummer",
        "namnteckning": "signature",
        "omfattning_heltid": "checkbox",
        "barn_fornamn": "text",
    }
    assert {n: by[n].type for n in expected_types} == expected_types
    assert by["barn_personnummer"].ocr.comb == 12
    assert by["behov_beskrivning"].ocr.single_line is False
    assert by["vh_namn"].source == "vh_namn"
    assert len(t.references) == 2 and abs(t.references[0].shape[1] - 2480) <= 1


def test_radio_buttons_become_one_choice_field(tmp_path: Path):
    report = import_pdf(_pdf(tmp_path, "p.pdf", blank_pdf(parkering())), "park", tmp_path / "t")
    svar = next(f for f in load_template(report.folder, 300).spec.fields if f.name == "svar_via")
    assert svar.type == "choice" and [o.value for o in svar.options] == ["post", "epost", "hamtas"]
    assert svar.required  # exactly one of


@pytest.mark.tesseract
@pytest.mark.slow
def test_imported_template_reads_generated_scans(tmp_path: Path):
    """Blank fillable PDF -> import -> the scans of that form read as well as with the
    hand-made template (the widget boxes leave out the printed labels)."""
    tdir = tmp_path / "templates"
    import_pdf(_pdf(tmp_path, "f.pdf", blank_pdf(forskola())), "forskoleplats", tdir)
    files = generate_corpus(tmp_path / "scans", 2, seed=77, forms=[forskola()])
    cfg = make_config(tmp_path / "data", templates_dir=tdir)
    records, fields = [], []
    with open_context(cfg) as ctx:
        marks = mark_fields(ctx.templates)
        for path in files:
            r, f = score_file(path, expected_for(path) or [], process_file(path, ctx), marks)
            records += r
            fields += f
    s = summarize(records, fields)
    assert s.records_right == s.records == 2
    assert s.marks_right == s.marks
    assert s.text_exact / s.text_fields >= 0.97
    assert s.wrong_unflagged == 0


def test_reimport_keeps_admin_edits_and_versions_a_revision(tmp_path: Path):
    tdir = tmp_path / "templates"
    pdf = _pdf(tmp_path, "p.pdf", blank_pdf(parkering()))
    first = import_pdf(pdf, "park", tdir)
    path = first.folder / "template.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for f in doc["fields"]:
        if f["name"] == "fornamn":
            f["name"], f["rules"] = "sokande_fornamn", ["required", {"max_length": 40}]
        if f["name"] == "tidigare_nummer":
            f["type"] = "text"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")

    again = import_pdf(pdf, "park", tdir)  # the same PDF: same version, edits kept
    spec = load_template(again.folder, 300).spec
    by = {f.name: f for f in spec.fields}
    assert again.version == 1 and again.archived is None
    assert "sokande_fornamn" in by and "fornamn" not in by
    assert [r.name for r in by["sokande_fornamn"].rules] == ["required", "max_length"]
    assert by["tidigare_nummer"].type == "text"

    # A revision: the first-name box moved; the rest of the layout is the same.
    form = parkering()
    page = form.pages[0]
    moved = tuple(
        FieldDef(**{**f.__dict__, "x": f.x + 20, "w": f.w - 20}) if f.name == "fornamn" else f
        for f in page.fields
    )
    revised = form.__class__(
        **{**form.__dict__, "pages": (page.__class__(moved, page.texts, page.rules),)}
    )
    rev = import_pdf(_pdf(tmp_path, "p2.pdf", blank_pdf(revised)), "park", tdir)
    assert rev.version == 2 and rev.archived == tdir / "park" / "versions" / "1"
    by2 = {f.name: f for f in load_template(rev.folder, 300).spec.fields}
    assert "fornamn" in by2 and "sokande_fornamn" not in by2  # moved: imported afresh
    assert by2["tidigare_nummer"].type == "text"  # unmoved: the admin's edit stays
    versions = sorted((t.id, t.version) for t in load_templates(tdir, 300))
    assert versions == [("park", 1), ("park", 2)]


def _rotated_pdf() -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(595.28, 841.89))
    c.setPageRotation(90)
    c.setFont("Helvetica", 14)
    c.drawString(60, 780, "Roterad blankett")
    c.rect(100, 500, 200, 30)
    c.acroForm.textfield(name="namn", x=100, y=500, width=200, height=30, borderWidth=0)
    c.showPage()
    c.save()
    return buf.getvalue()


def test_rotated_page_boxes_land_on_the_printed_box(tmp_path: Path):
    report = import_pdf(_pdf(tmp_path, "rot.pdf", _rotated_pdf()), "rot", tmp_path / "t")
    t = load_template(report.folder, 300)
    page = t.spec.pages[0]
    # reportlab writes a landscape media box turned a quarter: displayed portrait.
    assert (page.width, page.height) == pytest.approx((595.28, 841.89), abs=0.5)
    ref = t.references[0]
    assert abs(ref.shape[1] - 595.28 * 300 / 72) <= 2
    x, y, w, h = t.spec.fields[0].box
    assert h > w  # a wide box in user space stands upright on the displayed page
    x, y, w, h = (v * 300 / 72 for v in t.spec.fields[0].box)
    # The printed rectangle's edges are where the imported box says, on all four sides.
    mid_y, mid_x = (
        slice(int(y + h * 0.3), int(y + h * 0.7)),
        slice(int(x + w * 0.3), int(x + w * 0.7)),
    )
    assert ref[mid_y, int(x) - 4 : int(x) + 5].min() < 128
    assert ref[mid_y, int(x + w) - 4 : int(x + w) + 5].min() < 128
    assert ref[int(y) - 4 : int(y) + 5, mid_x].min() < 128
    assert ref[int(y + h) - 4 : int(y + h) + 5, mid_x].min() < 128
    assert ref[mid_y, mid_x].min() > 200


def test_encrypted_with_empty_password_and_xfa_hybrid(tmp_path: Path):
    form = parkering()
    buf = io.BytesIO()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(blank_pdf(form))))
    acro = writer._root_object["/AcroForm"]
    acro[NameObject("/XFA")] = ArrayObject(
        [TextStringObject("template"), TextStringObject("<xdp/>")]
    )
    writer.encrypt(user_password="", owner_password="agare", algorithm="AES-128")
    writer.write(buf)
    pdf = _pdf(tmp_path, "hybrid.pdf", buf.getvalue())
    af = read_acroform(pdf.read_bytes(), str(pdf))
    assert af.xfa and af.encrypted
    report = import_pdf(pdf, "hybrid", tmp_path / "t")
    assert any("XFA" in n for n in report.notes) and any("encrypted" in n for n in report.notes)
    assert report.fields == len({f.name for f in form.fields()})


def test_unusual_widgets_are_named_or_skipped_and_said(tmp_path: Path):
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(595.28, 841.89))
    c.drawString(72, 800, "Blankett med konstiga fält")
    c.acroForm.textfield(name="namn", x=72, y=700, width=200, height=20)
    c.acroForm.textfield(name="namn", x=72, y=650, width=200, height=20)  # same name again
    c.acroForm.textfield(name="dold", x=72, y=600, width=200, height=20, annotationFlags="hidden")
    c.acroForm.textfield(name="las", x=72, y=550, width=200, height=20, fieldFlags="readOnly")
    c.acroForm.textfield(name="utanfor", x=700, y=550, width=100, height=20)
    c.showPage()
    c.save()
    report = import_pdf(_pdf(tmp_path, "odd.pdf", buf.getvalue()), "odd", tmp_path / "t")
    names = [f.name for f in load_template(report.folder, 300).spec.fields]
    assert sorted(names) == ["namn", "namn_2"]
    said = " ".join(report.skipped)
    assert "dold: hidden" in said and "las: read-only" in said and "utanfor" in said


def test_not_a_form_is_a_clear_error(tmp_path: Path):
    from pipeline.errors import TemplateError

    buf = io.BytesIO()
    c = Canvas(buf)
    c.drawString(72, 720, "Inga fält här")
    c.showPage()
    c.save()
    with pytest.raises(TemplateError, match="no form fields"):
        import_pdf(_pdf(tmp_path, "plain.pdf", buf.getvalue()), "plain", tmp_path / "t")


def test_check_finds_overlaps_and_boxes_on_print_and_draws_overlays(tmp_path: Path):
    src = Path(__file__).resolve().parent.parent / "templates" / "parkeringstillstand"
    dst = tmp_path / "parkeringstillstand"
    shutil.copytree(src, dst)
    doc = yaml.safe_load((dst / "template.yaml").read_text(encoding="utf-8"))
    doc["fields"].append({"name": "dubbel", "page": 1, "box": doc["fields"][4]["box"]})
    doc["fields"].append({"name": "rubrik", "page": 1, "box": [40, 80, 330, 16]})  # the title
    (dst / "template.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    t = load_template(dst, 300)
    found = {(f.field, f.message.split(" ")[0]) for f in check_template(t)}
    assert (doc["fields"][4]["name"], "overlaps") in found
    assert any(name == "rubrik" for name, _ in found)
    assert check_template(load_template(src, 300)) == []  # the real template is clean
    img = overlay(t, 1)
    assert img.shape == (*t.references[0].shape, 3)
    # The overlay is coloured where boxes are, grey elsewhere.
    assert int(np.abs(img[:, :, 0].astype(int) - img[:, :, 2].astype(int)).max()) > 100


@pytest.mark.integration
@pytest.mark.tesseract
@pytest.mark.slow
def test_template_commands(tmp_path: Path):
    from tests.test_cli import blankett

    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"templates_dir: {tmp_path / 'templates'}\n")
    pdf = _pdf(tmp_path, "p.pdf", blank_pdf(parkering()))
    res = blankett("template", "import-pdf", pdf, "--id", "parkeringstillstand", "-c", cfg)
    assert res.returncode == 0, res.stderr
    assert "version 1" in res.stdout
    res = blankett(
        "template", "check", "parkeringstillstand", "--overlay", tmp_path / "ov", "-c", cfg
    )
    assert res.returncode == 0, res.stdout
    png = tmp_path / "ov" / "parkeringstillstand-v1-page-1.png"
    assert cv2.imread(str(png)) is not None
    scans = tmp_path / "scans"
    generate_corpus(scans, 2, seed=random.Random(3).randrange(1000), forms=[parkering()])
    res = blankett("template", "test", "parkeringstillstand", scans, "-c", cfg)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "exact%" in res.stdout and "2/2 forms identified" in res.stdout
    res = blankett(
        "template", "test", "parkeringstillstand", scans, "-c", cfg, "--min-exact", "100.1"
    )
    assert res.returncode == 1


def _revision_with_extra_row():
    """Version 2 of the parking form: a new row pushes everything below it down."""
    form = parkering()
    page = form.pages[0]
    shift = 36.0
    cut = next(f.y for f in page.fields if f.name == "epost")
    fields = tuple(
        FieldDef(**{**f.__dict__, "y": f.y + shift}) if f.y > cut else f for f in page.fields
    )
    texts = tuple(
        t.__class__(**{**t.__dict__, "y": t.y + shift}) if cut < t.y < 800 else t
        for t in page.texts
    )
    fields += (FieldDef("ombud", "text", "Ombud (namn)", 42.0, cut + 34, 511.28, 30.0),)
    return form.__class__(
        **{**form.__dict__, "pages": (page.__class__(fields, texts, page.rules),)}
    )


@pytest.mark.tesseract
@pytest.mark.slow
def test_versions_are_told_apart_and_lookalikes_are_flagged(tmp_path: Path):
    from pipeline.samplegen.build import make_instance, scanned_pdf
    from pipeline.samplegen.degrade import ScanStyle

    tdir = tmp_path / "templates"
    v1, v2 = parkering(), _revision_with_extra_row()
    import_pdf(_pdf(tmp_path, "v1.pdf", blank_pdf(v1)), "park", tdir)
    assert import_pdf(_pdf(tmp_path, "v2.pdf", blank_pdf(v2)), "park", tdir).version == 2
    rng = random.Random(21)
    cfg = make_config(tmp_path / "data", templates_dir=tdir)
    with open_context(cfg) as ctx:
        for form, version in ((v1, 1), (v2, 2)):
            inst = make_instance(form, rng, ScanStyle())
            scan = _pdf(tmp_path, f"scan-v{version}.pdf", scanned_pdf(inst.pages))
            (rec,) = process_file(scan, ctx)
            assert (rec.template_id, rec.template_version) == ("park", version)
            assert "version_uncertain" not in rec.issues

    # Two versions whose printed layout is the same cannot be told apart: say so.
    shutil.copytree(tdir / "park" / "versions" / "1", tdir / "park" / "versions" / "3")
    same = tdir / "park" / "versions" / "3" / "template.yaml"
    same.write_text(
        same.read_text(encoding="utf-8").replace("version: 1", "version: 3"), encoding="utf-8"
    )
    with open_context(cfg) as ctx:
        (rec,) = process_file(tmp_path / "scan-v1.pdf", ctx)
        assert rec.template_id == "park" and rec.template_version in (1, 3)
        assert "version_uncertain" in rec.issues and rec.status.value == "needs_review"


def _coded_form(code: str) -> bytes:
    """A one-field form with a printed Code 39 form id; two codes, one layout."""
    from reportlab.graphics.barcode import code39

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(595.28, 841.89), invariant=True)
    c.setFont("Helvetica-Bold", 16)
    c.drawString(60, 780, "Anmälan om ändrad adress")
    c.setFont("Helvetica", 9)
    for i, line in enumerate(("Skriv tydligt.", "Skicka blanketten till kommunen.")):
        c.drawString(60, 750 - 12 * i, line)
    c.rect(60, 600, 400, 30)
    c.drawString(63, 622, "Ny adress")
    c.acroForm.textfield(name="ny_adress", x=61, y=601, width=398, height=18, borderWidth=0)
    code39.Standard39(code, barHeight=28, barWidth=1.2, checksum=0).drawOn(c, 60, 60)
    c.showPage()
    c.save()
    return buf.getvalue()


@pytest.mark.tesseract
@pytest.mark.slow
def test_form_id_barcodes_tell_lookalike_versions_apart(tmp_path: Path):
    """Same layout, different printed form id: the barcode decides between versions."""
    from pipeline.samplegen.build import scanned_pdf
    from pipeline.samplegen.degrade import ScanStyle, scan_like
    from pipeline.samplegen.fillpdf import fill_pdf, render_filled

    tdir = tmp_path / "templates"
    first = import_pdf(_pdf(tmp_path, "v1.pdf", _coded_form("ADR1001")), "adress", tdir)
    assert any("ADR1001" in n for n in first.notes)
    second = import_pdf(_pdf(tmp_path, "v2.pdf", _coded_form("ADR1002")), "adress", tdir)
    assert second.version == 2  # the layout is the same; the printed form id is not
    page = load_template(second.folder, 300).spec.pages[0]
    assert page.form_code is not None and page.form_code.text == "ADR1002"
    cfg = make_config(tmp_path / "data", templates_dir=tdir)
    rng = random.Random(4)
    with open_context(cfg) as ctx:
        for code, version in (("ADR1001", 1), ("ADR1002", 2)):
            spec = next(t.spec for t in ctx.templates if t.version == version)
            pdf = fill_pdf(_coded_form(code), spec, {"ny_adress": "Storgatan 7"})
            scan = [scan_like(img, rng, ScanStyle())[0] for img in render_filled(pdf)]
            (rec,) = process_file(_pdf(tmp_path, f"s{version}.pdf", scanned_pdf(scan)), ctx)
            assert (rec.template_id, rec.template_version) == ("adress", version)
            assert "version_uncertain" not in rec.issues
