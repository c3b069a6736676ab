"""Filling any fillable PDF through its own fields, for real-form test corpora.

Values are chosen by the template's field types (the template made by ``import-pdf``,
whose ``source`` names lead back to the PDF's fields), written with pypdf, and rendered
with PDFium's form filler so they look as a person typing into the form would print them.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from typing import Any

from pypdf import PdfReader, PdfWriter

from pipeline.pdfrender import render_pages
from pipeline.records import Gray
from pipeline.rules import check_type
from pipeline.samplegen import values as V
from pipeline.templates.acroform import full_name, on_state, read_acroform
from pipeline.templates.schema import FieldSpec, TemplateSpec

_WORDS = (
    "arbetsförmåga nedsatt besvär ryggen sömnsvårigheter behandling pågår "
    "sjukskrivning halvtid återgång planeras rehabilitering kontakt företagshälsovård "
    "smärta yrsel trötthet"
).split()
_EN_WORDS = "Main Street Oak Avenue Suite Apt North South LLC Holdings Trust".split()
_EN_FIRST = ["James", "Maria", "Robert", "Linda", "Michael", "Susan", "David", "Karen"]
_EN_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis"]
_EN_TOWNS = ["Springfield", "Riverside", "Franklin", "Greenville", "Madison", "Fairview"]


def _chars_that_fit(f: FieldSpec) -> int:
    assert f.box is not None
    return max(1, int(f.box[2] / 6.2))  # about 6 pt a character at the usual 10 pt


def value_for(f: FieldSpec, rng: random.Random, english: bool, max_len: int | None) -> str:
    """A realistic value for a text-like field that fits its box."""
    fit = min(_chars_that_fit(f), max_len or 999)
    if f.ocr.comb:
        fit = min(fit, f.ocr.comb) if max_len is None else min(max_len, f.ocr.comb)
    t = f.type
    if t == "personnummer":
        v = V.personnummer(rng)
        return v.replace("-", "") if fit < 13 else v
    if t == "organisationsnummer":
        return V.organisationsnummer(rng)
    if t == "postnummer":
        return V.postnummer(rng)
    if t == "bankgiro":
        return V.bankgiro(rng)
    if t == "date":
        d = (dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(300))).isoformat()
        return d if fit >= 10 else d.replace("-", "")[:fit]
    if t == "email":
        return f"{V.ascii_name(rng.choice(V.FIRST))}.{V.ascii_name(rng.choice(V.LAST))}@exempel.se"
    if t == "phone":
        return f"070-{rng.randrange(100, 1000)} {rng.randrange(10, 100)} {rng.randrange(10, 100)}"
    if t in ("amount", "number"):
        digits = min(fit, 7)
        return "".join(str(rng.randrange(10)) for _ in range(max(1, digits)))
    if fit <= 3:
        return "".join(str(rng.randrange(10)) for _ in range(fit))
    if english:
        pool = [
            f"{rng.choice(_EN_FIRST)} {rng.choice(_EN_LAST)}",
            f"{rng.randrange(10, 999)} {rng.choice(_EN_WORDS)} {rng.choice(_EN_WORDS)}",
            f"{rng.choice(_EN_TOWNS)}, TX {rng.randrange(10000, 99999)}",
        ]
    else:
        p = V.person(rng)
        words = " ".join(rng.choice(_WORDS) for _ in range(8)).capitalize()
        pool = [
            f"{p['first']} {p['last']}",
            p["street"],
            f"{p['zip']} {p['town']}",
            rng.choice(V.EMPLOYERS),
            words,
        ]
    fitting = [s for s in pool if len(s) <= fit] or [s[:fit].rstrip() for s in pool]
    return rng.choice(fitting)


def choose_values(
    spec: TemplateSpec, rng: random.Random, max_lens: dict[str, int], english: bool = False
) -> dict[str, str | bool]:
    """Printed values by field name: about 80 % of text fields filled, groups respected."""
    out: dict[str, str | bool] = {}
    in_group = {n for g in spec.groups for n in g.fields}
    for f in spec.fields:
        if f.type == "checkbox":
            out[f.name] = f.name not in in_group and rng.random() < 0.4
        elif f.type == "choice":
            out[f.name] = rng.choice([o.value for o in f.options])
        elif f.type in ("signature", "barcode"):
            continue
        elif rng.random() < 0.8 or f.required:
            allowed = next((r.arg for r in f.rules if r.name == "in"), None)
            out[f.name] = (
                str(rng.choice(allowed))
                if allowed
                else value_for(f, rng, english, max_lens.get(f.source or ""))
            )
    for g in spec.groups:
        if g.kind in ("exactly_one", "at_least_one"):
            out[rng.choice(list(g.fields))] = True
    # One PDF field shown in several places (the same number on every page) has one value.
    first: dict[str, str | bool] = {}
    for f in spec.fields:
        if f.source and f.name in out:
            first.setdefault(f.source, out[f.name])
    for f in spec.fields:
        if f.source in first:
            out[f.name] = first[f.source]
    return out


def max_lengths(pdf: bytes) -> dict[str, int]:
    """MaxLen by field name, as the widgets inherit it."""
    form = read_acroform(pdf, "form")
    return {w.name: w.max_len for w in form.widgets if w.max_len}


def fill_pdf(pdf: bytes, spec: TemplateSpec, printed: dict[str, str | bool]) -> bytes:
    """The PDF with ``printed`` written into its own fields (XFA dropped so viewers and
    PDFium show the AcroForm values)."""
    reader = PdfReader(io.BytesIO(pdf))
    if reader.is_encrypted:
        reader.decrypt("")
    writer = PdfWriter(clone_from=reader)
    acro: Any = writer._root_object["/AcroForm"]
    if "/XFA" in acro:
        del acro["/XFA"]
    by_source: dict[str, Any] = {}
    for f in spec.fields:
        if f.name not in printed:
            continue
        source = f.source or f.name  # hand-made templates name fields as the PDF does
        v = printed[f.name]
        if f.type == "checkbox":
            by_source[source] = "/" + _on_state(writer, source) if v else "/Off"
        elif f.type == "choice":
            opt = next(o for o in f.options if o.value == v)
            by_source[source] = "/" + (opt.source or opt.value)
        else:
            by_source[source] = str(v)
    for page in writer.pages:
        writer.update_page_form_field_values(page, by_source, auto_regenerate=False)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _on_state(writer: PdfWriter, qualified: str) -> str:
    for page in writer.pages:
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            if full_name(a) == qualified:
                return on_state(a) or "On"
    return "On"


def render_filled(pdf: bytes, dpi: int = 300) -> list[Gray]:
    """Render with PDFium's form filler, so field values appear as printed."""
    return render_pages(pdf, dpi, forms=True)


def expected(spec: TemplateSpec, printed: dict[str, str | bool]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in spec.fields:
        raw = printed.get(f.name)
        if f.type in ("checkbox", "signature"):
            out[f.name] = bool(raw)
        elif f.type == "choice":
            out[f.name] = raw
        elif f.type != "barcode":
            text = str(raw or "")
            out[f.name] = check_type(f.type, text).value
    return out
