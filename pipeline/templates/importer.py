"""``template import-pdf``: a template from a fillable PDF's AcroForm widgets.

One field per widget (radio buttons of one name become one ``choice`` field), the kind
and flags from the PDF, type and rules guessed from telling names, reference images
rendered from the blank form. Re-importing a new revision keeps the admin's edits
(``reimport.py``); when the layout changed, the previous version is kept under
``versions/<n>/`` so scans of the older printing still match.
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import ValidationError

from pipeline.errors import TemplateError
from pipeline.pdfrender import render_pages
from pipeline.templates.acroform import AcroForm, Widget, read_acroform
from pipeline.templates.guess import (
    CheckboxWidget,
    Guess,
    checkbox_families,
    field_name,
    guess_field,
)
from pipeline.templates.load import TEMPLATE_FILE, VERSIONS_DIR, read_spec
from pipeline.templates.reimport import merge_previous, optional_pages
from pipeline.templates.schema import TemplateSpec
from pipeline.templates.yamlio import dump_yaml


@dataclass
class ImportReport:
    folder: Path
    version: int
    fields: int = 0
    kept: int = 0  # fields that kept the admin's edits from the previous version
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)  # guesses an admin should check
    archived: Path | None = None


def _clip(
    box: tuple[float, float, float, float], w: float, h: float
) -> tuple[float, float, float, float] | None:
    x0, y0 = max(0.0, box[0]), max(0.0, box[1])
    x1, y1 = min(w, box[0] + box[2]), min(h, box[1] + box[3])
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return (round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2))


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out, n = f"{name}_{n}", n + 1
    taken.add(out)
    return out


def _option_value(w: Widget, index: int) -> str:
    raw = w.export or str(index + 1)
    return re.sub(r"[^A-Za-z0-9_\-]+", "_", raw).strip("_") or str(index + 1)


def fields_from_widgets(
    form: AcroForm, report: ImportReport
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(fields, groups) as template dicts, in page and reading order."""
    taken: set[str] = set()
    fields: list[dict[str, Any]] = []
    radios: dict[tuple[int, str], list[Widget]] = defaultdict(list)
    checks: list[CheckboxWidget] = []
    unnamed = 0
    ordered = sorted(form.widgets, key=lambda w: (w.page, round(w.box[1] / 4), w.box[0]))
    for w in ordered:
        label = w.name or f"page {w.page} at {w.box[0]:.0f},{w.box[1]:.0f}"
        if w.kind == "button":
            report.skipped.append(f"{label}: push button (no data)")
            continue
        if w.hidden:
            report.skipped.append(f"{label}: hidden field")
            continue
        if w.read_only:
            report.skipped.append(f"{label}: read-only field (filled by the PDF, not a person)")
            continue
        page = form.pages[w.page - 1]
        box = _clip(w.box, page.width, page.height)
        if box is None:
            report.skipped.append(f"{label}: its box lies outside page {w.page}")
            continue
        if w.kind == "radio":
            radios[(w.page, w.name)].append(Widget(**{**w.__dict__, "box": box}))
            continue
        if not w.name:
            unnamed += 1
        name = _unique(field_name(w.name) if w.name else f"falt_p{w.page}_{unnamed}", taken)
        if not w.name:
            report.notes.append(f"a widget with no name on page {w.page} was named {name}")
        d: dict[str, Any] = {"name": name, "page": w.page}
        guess: Guess | None = None
        if w.kind == "checkbox":
            d["type"] = "checkbox"
            if w.name:
                checks.append(CheckboxWidget(w.page, w.name, name, w.export))
        elif w.kind == "signature":
            d["type"] = "signature"
        else:
            guess = guess_field(w.name, w.tooltip)
            d["type"] = guess.type
            if guess.rules:
                d["rules"] = list(guess.rules)
            if w.kind == "choice":
                report.notes.append(f"{name}: a list/combo box, read as the text written in it")
            ocr: dict[str, Any] = {}
            if w.comb:
                ocr["comb"] = w.comb
            if w.multiline:
                ocr["single_line"] = False
            if ocr:
                d["ocr"] = ocr
        d["label"] = (w.tooltip or w.name or name)[:120]
        d["box"] = list(box)
        d["source"] = w.name or None
        if guess is not None:
            d["guess"] = guess.note()
            if guess.uncertain:
                report.uncertain.append(f"{name}: {guess.type}? {guess.reason}")
        fields.append(d)
    for (pno, raw), widgets in radios.items():
        name = _unique(field_name(raw) if raw else f"val_p{pno}", taken)
        if len(widgets) < 2:
            report.notes.append(f"{name}: a radio group with one button, imported as a checkbox")
            fields.append(
                {
                    "name": name,
                    "page": pno,
                    "type": "checkbox",
                    "label": (widgets[0].tooltip or raw or name)[:120],
                    "box": list(widgets[0].box),
                    "source": raw or None,
                }
            )
            continue
        seen: set[str] = set()
        options = []
        for i, w in enumerate(widgets):
            value = _unique(_option_value(w, i), seen)
            options.append({"value": value, "box": list(w.box), "source": w.export})
        fields.append(
            {
                "name": name,
                "page": pno,
                "type": "choice",
                "label": (widgets[0].tooltip or raw or name)[:120],
                "options": options,
                "rules": ["required"],
                "source": raw or None,
            }
        )
    groups = []
    for fam in checkbox_families(checks):
        if not fam.grouped:
            report.notes.append(fam.reason)
            continue
        group = {
            "name": _unique(field_name(fam.stem) + "_grupp", taken),
            "kind": "at_least_one",
            "fields": list(fam.names),
            "guess": {"type": "at_least_one", "reason": fam.reason}
            | ({"uncertain": True} if fam.uncertain else {}),
        }
        if fam.uncertain:
            report.uncertain.append(f"{group['name']}: at_least_one? {fam.reason}")
        groups.append(group)
    fields.sort(key=lambda d: (d["page"], _top_left(d)))
    return fields, groups


def _top_left(d: dict[str, Any]) -> tuple[float, float]:
    boxes = [d["box"]] if "box" in d else [o["box"] for o in d["options"]]
    return (round(min(b[1] for b in boxes) / 4), min(b[0] for b in boxes))


def render_references(data: bytes, dpi: int) -> list[np.ndarray]:
    """The blank form as a viewer prints it (the form filler's field borders and empty
    buttons included, so that dropout removes them from scans), grayscale."""
    return render_pages(data, dpi, forms=True)


def find_form_code(img: np.ndarray, dpi: int) -> dict[str, Any] | None:
    """The first barcode printed on a blank page, as template data (points, padded)."""
    import zxingcpp

    for found in zxingcpp.read_barcodes(img):
        if len(found.text) < 4:
            continue
        p = found.position
        xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
        ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
        s = 72.0 / dpi
        pad = 6.0
        x0, y0 = max(0.0, min(xs) * s - pad), max(0.0, min(ys) * s - pad)
        x1, y1 = max(xs) * s + pad, max(ys) * s + pad
        return {
            "text": found.text,
            "box": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
        }
    return None


def import_pdf(
    pdf: Path,
    template_id: str,
    templates_dir: Path,
    *,
    dpi: int = 300,
    title: str | None = None,
    language: str | None = None,
) -> ImportReport:
    try:
        data = pdf.read_bytes()
    except OSError as exc:
        raise TemplateError(f"cannot read ({exc.strerror})", path=pdf) from None
    form = read_acroform(data, str(pdf))
    folder = templates_dir / template_id
    report = ImportReport(folder=folder, version=1, notes=list(form.notes))
    fields, groups = fields_from_widgets(form, report)
    references = render_references(data, dpi)
    pages: list[dict[str, Any]] = []
    for i, (g, img) in enumerate(zip(form.pages, references, strict=True), start=1):
        page: dict[str, Any] = {
            "number": i,
            "image": f"page-{i}.png",
            "width": round(g.width, 2),
            "height": round(g.height, 2),
        }
        code = find_form_code(img, dpi)
        if code is not None:
            page["form_code"] = code
            report.notes.append(f"page {i}: form-id barcode {code['text']!r}")
        pages.append(page)
    prev_path = folder / TEMPLATE_FILE
    prev = read_spec(prev_path) if prev_path.is_file() else None
    optional_pages(pages, fields, prev, report.notes)
    if prev is not None:
        fields, groups, changed, report.kept = merge_previous(fields, groups, prev)
        # A new page size or a new printed form id is a new version too.
        changed |= [
            (p["width"], p["height"], (p.get("form_code") or {}).get("text")) for p in pages
        ] != [
            (round(p.width, 2), round(p.height, 2), p.form_code.text if p.form_code else None)
            for p in prev.pages
        ]
        report.version = prev.version + 1 if changed else prev.version
        # A title that is only the file name was the old default, not an admin's choice.
        title = title or (prev.title if prev.title != pdf.stem else None)
        language = language or prev.language
    if not title and form.title:
        title = form.title
        report.notes.append(f"title {title!r}: the PDF's own title")
    spec_dict: dict[str, Any] = {
        "id": template_id,
        "version": report.version,
        "title": title or pdf.stem,
    }
    if language:
        spec_dict["language"] = language
    spec_dict |= {"pages": pages, "fields": fields, "groups": groups}
    try:
        TemplateSpec.model_validate(spec_dict)
    except ValidationError as exc:
        raise TemplateError(f"the imported template does not validate: {exc}", path=pdf) from None
    if prev is not None and report.version != prev.version:
        report.archived = folder / VERSIONS_DIR / str(prev.version)
        report.archived.mkdir(parents=True, exist_ok=True)
        for p in [prev_path, *(folder / pg.image for pg in prev.pages)]:
            if p.is_file():
                shutil.move(str(p), report.archived / p.name)
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(references, start=1):
        cv2.imwrite(str(folder / f"page-{i}.png"), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    header = (
        f"# Imported from {pdf.name} by `blankett template import-pdf`.\n"
        "# Rename fields and set types and rules freely: a re-import keeps them.\n"
    )
    (folder / TEMPLATE_FILE).write_text(header + dump_yaml(spec_dict), encoding="utf-8")
    report.fields = len(fields)
    return report
