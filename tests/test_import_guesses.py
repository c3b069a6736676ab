"""The importer's guesses carry their reasons; unsure ones are printed and checked.

Each rule has a form built here with reportlab's AcroForm (and pypdf for nested field
names, as PDFs made with LiveCycle or Acrobat have them), the way an agency's fillable
PDF names its fields.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject
from reportlab.pdfgen.canvas import Canvas
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.templates.check import check_template, uncertain_guesses
from pipeline.templates.guess import guess_field
from pipeline.templates.importer import import_pdf
from pipeline.templates.load import load_template, read_spec
from pipeline.templates.schema import TemplateSpec

A4 = (595.28, 841.89)


@dataclass(frozen=True)
class W:
    """A widget to put on a test form: a text field or a checkbox."""

    name: str
    tooltip: str = ""
    kind: str = "text"
    x: float = 72
    y: float = 700
    w: float = 220
    h: float = 20
    export: str = "Yes"  # a checkbox's on-value (reportlab's default)


def _nest(data: bytes, exports: dict[str, str]) -> bytes:
    """Dotted names ("Del1[0].c1_3[0]") become a real field tree: a parent per part; a
    checkbox's on-value is renamed from reportlab's "Yes"."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    acro: Any = writer._root_object["/AcroForm"]
    top = ArrayObject()
    parents: dict[str, Any] = {}

    def parent(path: tuple[str, ...]) -> Any:
        key = ".".join(path)
        if key not in parents:
            node = DictionaryObject(
                {NameObject("/T"): TextStringObject(path[-1]), NameObject("/Kids"): ArrayObject()}
            )
            ref = writer._add_object(node)
            if len(path) > 1:
                up = parent(path[:-1])
                node[NameObject("/Parent")] = up
                up.get_object()["/Kids"].append(ref)
            else:
                top.append(ref)
            parents[key] = ref
        return parents[key]

    for ref in list(acro["/Fields"]):
        widget = ref.get_object()
        export = exports.get(str(widget["/T"]), "Yes")
        for key in ("/N", "/D") if export != "Yes" else ():
            states = widget["/AP"][key].get_object()
            states[NameObject(f"/{export}")] = states.pop("/Yes")
        *path, last = str(widget["/T"]).split(".")
        if not path:
            top.append(ref)
            continue
        up = parent(tuple(path))
        widget[NameObject("/T")] = TextStringObject(last)
        widget[NameObject("/Parent")] = up
        up.get_object()["/Kids"].append(ref)
    acro[NameObject("/Fields")] = top
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _form(pages: list[list[W]], title: str | None = None) -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, invariant=True)
    if title is not None:
        c.setTitle(title)
    for n, widgets in enumerate(pages, start=1):
        c.setFont("Helvetica", 11)
        c.drawString(60, 800, f"Blankett, sida {n}")
        for i, w in enumerate(widgets):
            y = w.y - 34 * i
            if w.kind == "checkbox":
                c.acroForm.checkbox(
                    name=w.name, tooltip=w.tooltip, x=w.x, y=y, size=12, buttonStyle="cross"
                )
            else:
                c.acroForm.textfield(
                    name=w.name, tooltip=w.tooltip, x=w.x, y=y, width=w.w, height=w.h
                )
        c.showPage()
    c.save()
    exports = {w.name: w.export for widgets in pages for w in widgets}
    return _nest(buf.getvalue(), exports)


def _import(tmp_path: Path, pdf: bytes, name: str = "form.pdf", **kw: Any) -> Any:
    path = tmp_path / name
    path.write_bytes(pdf)
    return import_pdf(path, "blankett", tmp_path / "templates", dpi=72, **kw)


def _fields(tmp_path: Path) -> dict[str, Any]:
    spec = read_spec(tmp_path / "templates" / "blankett" / "template.yaml")
    return {f.name: f for f in spec.fields}


def test_a_date_word_beats_a_signature_word(tmp_path: Path) -> None:
    report = _import(
        tmp_path,
        _form(
            [
                [
                    W("Underskrift_datum"),  # Swedish: the date of the signature
                    W("namnteckningsdatum"),
                    W("flt_datUnderskrift"),  # "dat", short for datum
                    W("Text3", "Datum för underskrift"),
                    W("sign_date"),
                    W("Text5", "Date signed"),
                    W("Text6", "Namnteckning"),  # a signature box
                    W("Text7", "Sign here"),
                ]
            ]
        ),
    )
    by = _fields(tmp_path)
    types = {n: f.type for n, f in by.items()}
    assert types == {
        "Underskrift_datum": "date",
        "namnteckningsdatum": "date",
        "flt_datUnderskrift": "date",
        "Text3": "date",
        "sign_date": "date",
        "Text5": "date",
        "Text6": "signature",
        "Text7": "signature",
    }
    note = by["Underskrift_datum"].guess
    assert note is not None and note.uncertain and "beats the signature word" in note.reason
    assert by["Text6"].guess is not None and not by["Text6"].guess.uncertain
    assert any(u.startswith("Underskrift_datum: date?") for u in report.uncertain)


def test_a_label_naming_several_things_is_text(tmp_path: Path) -> None:
    _import(
        tmp_path,
        _form(
            [
                [
                    W("Text1", "Namn, adress och telefon"),
                    W("NamnAdressTelefon"),
                    W("Text3", "Postnummer och ort"),
                    W("ort_och_datum"),
                    W("Text5", "City, state, and ZIP code"),
                    W("Text6", "Name, address, and telephone number"),
                    W("Text7", "Telefon eller e-post"),
                    # One thing, with words around it: still typed.
                    W("Text8", "Telefon, dagtid"),
                    W("Text9", "E-postadress"),
                    W("Text10", "Personnummer (ÅÅÅÅMMDD-NNNN)"),
                    W("Text11", "Date of birth (MM/DD/YYYY)"),
                    W("Text12", "Postnummer"),
                ]
            ]
        ),
    )
    by = _fields(tmp_path)
    several = ["Text1", "NamnAdressTelefon", "Text3", "ort_och_datum", "Text5", "Text6", "Text7"]
    for name in several:
        f = by[name]
        assert (f.type, f.rules) == ("text", ()), name
        assert f.guess is not None and f.guess.uncertain and "several things" in f.guess.reason
    typed = {"Text8": "phone", "Text9": "email", "Text10": "personnummer"}
    typed |= {"Text11": "date", "Text12": "postnummer"}
    assert {n: by[n].type for n in typed} == typed
    assert not any(by[n].guess.uncertain for n in typed)


def test_every_guessed_type_carries_its_reason(tmp_path: Path) -> None:
    _import(
        tmp_path,
        _form(
            [
                [
                    W("Falt_10"),
                    W("vh_telefon", "Mobiltelefon"),
                    W("kontakt_tel", "Kontaktperson"),
                    W("sokande_namn", "Personnummer"),  # the name names no type
                    W("flt_datumTelefonkontakt"),
                    W("kryss", kind="checkbox"),
                ]
            ]
        ),
    )
    by = _fields(tmp_path)
    notes = {n: (f.guess.type, f.guess.uncertain) for n, f in by.items() if f.guess}
    assert notes == {
        "Falt_10": ("text", False),
        "vh_telefon": ("phone", False),
        "kontakt_tel": ("phone", True),  # the name and the tooltip disagree
        "sokande_namn": ("personnummer", True),
        "flt_datumTelefonkontakt": ("date", True),  # two telling words run together
    }
    assert "no telling word" in by["Falt_10"].guess.reason
    assert '"telefon"' in by["vh_telefon"].guess.reason
    assert by["kryss"].guess is None  # the PDF says checkbox: not a guess


def test_a_checkbox_family_under_one_name_stem_is_one_group(tmp_path: Path) -> None:
    # c1_3[0..4], pick one, with the last three nested in a reading-order subform; and
    # two unrelated boxes that reuse one name under two parents.
    boxes = [
        W("top[0].Page1[0].c1_3[0]", kind="checkbox", export="1"),
        W("top[0].Page1[0].c1_3[1]", kind="checkbox", export="2"),
        W("top[0].Page1[0].Boxes[0].c1_3[2]", kind="checkbox", export="3"),
        W("top[0].Page1[0].Boxes[0].c1_3[3]", kind="checkbox", export="4"),
        W("top[0].Page1[0].Boxes[0].c1_3[4]", kind="checkbox", export="5"),
        W("top[0].Del1[0].Kryss[0]", kind="checkbox"),
        W("top[0].Del2[0].Kryss[0]", kind="checkbox"),
        W("top[0].Del2[0].Namn[0]"),
        # One box per row of a table, each meaning the same: nothing to pick from.
        W("top[0].Table[0].Row1[0].Barnbidrag[0]", kind="checkbox", export="1"),
        W("top[0].Table[0].Row2[0].Barnbidrag[1]", kind="checkbox", export="1"),
        W("top[0].Table[0].Row3[0].Barnbidrag[2]", kind="checkbox", export="1"),
    ]
    report = _import(tmp_path, _form([boxes]))
    spec = read_spec(report.folder / "template.yaml")
    assert [(g.name, g.kind, len(g.fields)) for g in spec.groups] == [
        ("c1_3_grupp", "at_least_one", 5)
    ]
    assert any("one per row" in n and "Barnbidrag" in n for n in report.notes)
    note = spec.groups[0].guess
    assert note is not None and note.uncertain and "different parents" in note.reason
    assert any(u.startswith("c1_3_grupp") for u in report.uncertain)

    # A template imported before: the family was split in two. A re-import mends it,
    # keeping the admin's names for the checkboxes.
    path = report.folder / "template.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    names = doc["groups"][0]["fields"]
    for f in doc["fields"]:
        if f["name"] == names[0]:
            f["name"] = "val_enskild"
    names[0] = "val_enskild"
    doc["groups"] = [
        {"name": "c1_3_grupp", "kind": "at_least_one", "fields": names[:2]},
        {"name": "c1_3_grupp_2", "kind": "at_least_one", "fields": names[2:]},
    ]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    again = _import(tmp_path, _form([boxes]))
    groups = read_spec(again.folder / "template.yaml").groups
    assert [(g.name, g.fields) for g in groups] == [("c1_3_grupp", tuple(names))]


def test_a_page_without_fields_is_optional_by_default(tmp_path: Path) -> None:
    pdf = _form([[], [W("sokande_namn"), W("sokande_telefon")], []])
    report = _import(tmp_path, pdf)
    spec = read_spec(report.folder / "template.yaml")
    assert [p.optional for p in spec.pages] == [True, False, True]
    assert sum("has no fields" in n for n in report.notes) == 2
    t = load_template(report.folder, 72)
    assert not [f for f in check_template(t) if f.field.startswith("page")]

    # A template whose field-less page is required is warned about.
    path = report.folder / "template.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["pages"][0]["optional"] = False
    doc["pages"][1]["optional"] = True  # an admin's choice on a page with fields
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    found = check_template(load_template(report.folder, 72))
    assert [(f.field, "missing_pages" in f.message) for f in found] == [("page 1", True)]
    # A re-import keeps the admin's optional page and makes the field-less one optional.
    again = read_spec(_import(tmp_path, pdf).folder / "template.yaml")
    assert [p.optional for p in again.pages] == [True, True, True]


def test_the_title_comes_from_the_pdfs_own_title(tmp_path: Path) -> None:
    fields = [[W("namn")]]
    own = "Ansökan om bostadsanpassningsbidrag"
    report = _import(tmp_path, _form(fields, title=own), name="blankett-2031.pdf")
    assert read_spec(report.folder / "template.yaml").title == own
    assert any("the PDF's own title" in n for n in report.notes)
    # A title given on the command line wins; a file name for a title does not count.
    report = _import(tmp_path, _form(fields, title=own), title="Bostadsanpassning")
    assert read_spec(report.folder / "template.yaml").title == "Bostadsanpassning"
    other = tmp_path / "other"
    other.mkdir()
    report = _import(other, _form(fields, title="Microsoft Word - Blankett 2031.docx"))
    assert read_spec(report.folder / "template.yaml").title == "form"


def test_a_reimport_updates_a_type_still_guessed_and_keeps_an_admins(tmp_path: Path) -> None:
    pdf = _form([[W("Text1", "Namn, adress och telefon"), W("Text2", "Ort och datum")]])
    report = _import(tmp_path, pdf)
    path = report.folder / "template.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    # Text1 still has the type an older importer guessed; the admin chose Text2's.
    doc["fields"][0] |= {"type": "phone", "guess": {"type": "phone", "reason": "old"}}
    doc["fields"][1] |= {"type": "date"}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    _import(tmp_path, pdf)
    by = _fields(tmp_path)
    assert by["Text1"].type == "text" and "several things" in by["Text1"].guess.reason
    assert by["Text2"].type == "date"


def test_check_warns_about_unsure_guesses_until_an_admin_answers(tmp_path: Path) -> None:
    pdf = _form([[W("Underskrift_datum"), W("Text2", "Namn, adress och telefon"), W("namn")]])
    report = _import(tmp_path, pdf)
    t = load_template(report.folder, 72)
    warned = {f.field for f in check_template(t) if "unsure" in f.message}
    assert warned == {"Underskrift_datum", "Text2"}

    doc = t.spec.model_dump(mode="json", exclude_none=True)
    doc["fields"][0]["guess"]["uncertain"] = False  # checked: a date
    doc["fields"][1]["type"] = "phone"  # the admin decided otherwise
    assert uncertain_guesses(TemplateSpec.model_validate(doc)) == []

    # A template imported before guesses were noted is guessed again from its source.
    for f in doc["fields"]:
        del f["guess"]
    doc["fields"][0]["type"] = "signature"
    old = TemplateSpec.model_validate(doc)
    messages = {f.field: f.message for f in uncertain_guesses(old)}
    assert set(messages) == {"Underskrift_datum", "Text2"}
    assert "would now guess date" in messages["Underskrift_datum"]


def test_old_templates_without_guess_notes_still_load() -> None:
    spec = TemplateSpec.model_validate(
        {
            "id": "gammal",
            "pages": [{"number": 1, "image": "page-1.png", "width": 595.28, "height": 841.89}],
            "fields": [{"name": "namn", "page": 1, "box": [40, 100, 200, 30]}],
        }
    )
    assert spec.fields[0].guess is None and spec.pages[0].optional is False

    def with_guess(note: dict[str, Any]) -> TemplateSpec:
        field = {"name": "namn", "page": 1, "box": [40, 100, 200, 30], "guess": note}
        return TemplateSpec.model_validate(spec.model_dump(mode="json") | {"fields": [field]})

    note = with_guess({"type": "text", "reason": "r"}).fields[0].guess
    assert note is not None and note.uncertain is False
    with pytest.raises(ValueError, match="Extra inputs"):
        with_guess({"type": "text", "reason": "r", "sure": True})


def test_import_pdf_prints_the_unsure_guesses(tmp_path: Path) -> None:
    pdf = tmp_path / "anmalan.pdf"
    pdf.write_bytes(_form([[W("Underskrift_datum"), W("namn")]], title="Anmälan"))
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"templates_dir: {tmp_path / 'templates'}\n", encoding="utf-8")
    run = CliRunner().invoke
    res = run(app, ["template", "import-pdf", str(pdf), "--id", "anmalan", "-c", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "1 guesses are uncertain" in res.output
    assert "uncertain: Underskrift_datum: date? name Underskrift_datum" in res.output
    res = run(app, ["template", "check", "anmalan", "-c", str(cfg)])
    assert res.exit_code == 0, res.output  # warnings, not errors
    assert "warning: Underskrift_datum: guessed type date, unsure" in res.output


@pytest.mark.parametrize(
    ("name", "tooltip", "expected"),
    [
        ("Text1", "Ort och datum", "text"),
        ("Text1", "Datum och underskrift", "date"),
        ("Text1", "Underskrift och namnförtydligande", "text"),
        ("Text1", "Bankgiro/Plusgiro", "text"),
        ("Text1", "Hushållets inkomst per månad (kr)", "amount"),
        ("Text1", "Från och med (ÅÅÅÅ-MM-DD)", "date"),
        ("Text1", "För- och efternamn", "text"),
        ("namnteckning", "Datum", "date"),
        ("Text1", "Signature of U.S. person", "signature"),
        # A place word beside a date word, as two words: "Växjö 2026-11-02" is no date.
        ("OrtDatum", "", "text"),
        ("Namn telefon", "", "text"),
        # A typed word with a plain word beside it keeps its type.
        ("Telefon dagtid", "", "phone"),
        ("Personnummer sökande", "", "personnummer"),
        ("EmailAddress", "", "email"),
    ],
)
def test_guesses_in_swedish_and_english(name: str, tooltip: str, expected: str) -> None:
    assert guess_field(name, tooltip).type == expected
