"""Corpus maker: fill fillable PDFs through their own fields, render, degrade, write truth.

    .venv/bin/python bench/corpus.py --out bench/out/corpus --count 30 \\
        [--real ../shared/forms] [--levels clean,office,fax,harsh] [--seed 1] \\
        [--values ordinary|diacritics] [--forms fk7804,w4]

Forms: the project's own (their blank fillable PDFs and templates) and, with --real, FK
7804, FK 3221, TSTRK 1031, W-9, W-4 and Form 1040 (both pages) imported with `template
import-pdf` plus the admin's hand edits in bench/real_forms/<id>.yaml. Values are chosen
by field type (Swedish and English names with å/ä/ö, addresses, valid personnummer and
other numbers, dates, amounts, e-mail, phone; checkboxes at random, respecting groups).
With --values diacritics the free-text fields of the Swedish forms get names, places and
phrases heavy in åäöÅÄÖ instead (bench/heavy_values.py). Each scan gets
<file>.expected.json with the values, the level, the dpi, the transform used (clean page
-> scan, per page), the value set and whether the form is one of ours or a real one.
Seeded: the same arguments give the same corpus.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from heavy_values import make_heavy

from pipeline.rules import check_type
from pipeline.samplegen.build import g4_tiff, scanned_pdf
from pipeline.samplegen.degrade import LEVELS, degrade
from pipeline.samplegen.fillpdf import choose_values, expected, fill_pdf, max_lengths, render_filled
from pipeline.samplegen.forms import all_forms
from pipeline.samplegen.render import blank_pdf
from pipeline.templates.importer import import_pdf
from pipeline.templates.load import read_spec
from pipeline.templates.schema import TemplateSpec
from pipeline.templates.yamlio import dump_yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REAL = {  # id: (file in ../shared/forms, OCR language, English values)
    "fk7804": ("fk7804_v2.pdf", "swe", False),
    "tstrk1031": ("TSTRK1031-V03U10.pdf", "swe", False),
    "w9": ("fw9_rev2018-10.pdf", "eng", True),
    "fk3221": ("fk3221_v1.pdf", "swe", False),
    "w4": ("fw4_2022.pdf", "eng", True),
    "f1040": ("f1040-TY2021.pdf", "eng", True),
}
VALUE_SETS = ("ordinary", "diacritics")


def apply_edits(template_yaml: Path, edits: dict[str, Any]) -> int:
    """The admin's hand edits: field name -> keys to set (or null to drop); _pages."""
    doc = yaml.safe_load(template_yaml.read_text(encoding="utf-8"))
    changed = 0
    for number, keys in (edits.pop("_pages", None) or {}).items():
        doc["pages"][int(number) - 1].update(keys)
        changed += 1
    fields = []
    for f in doc["fields"]:
        if f["name"] in edits:
            changed += 1
            if edits[f["name"]] is None:
                continue
            f.update(edits[f["name"]])
        fields.append(f)
    doc["fields"] = fields
    names = {f["name"] for f in fields}
    doc["groups"] = [g for g in doc.get("groups", []) if set(g["fields"]) <= names]
    template_yaml.write_text(dump_yaml(doc), encoding="utf-8")
    return changed


def import_real(
    forms_dir: Path, templates: Path, only: set[str] | None
) -> dict[str, tuple[bytes, TemplateSpec, bool]]:
    out = {}
    for tid, (fname, lang, english) in REAL.items():
        if only is not None and tid not in only:
            continue
        pdf = forms_dir / fname
        report = import_pdf(pdf, tid, templates, language=lang)
        edits_file = HERE / "real_forms" / f"{tid}.yaml"
        edits = (
            yaml.safe_load(edits_file.read_text(encoding="utf-8")) if edits_file.exists() else {}
        )
        n = apply_edits(report.folder / "template.yaml", edits or {})
        print(
            f"{tid}: imported {report.fields} fields ({len(report.skipped)} skipped), "
            f"{n} hand edits"
        )
        out[tid] = (pdf.read_bytes(), read_spec(report.folder / "template.yaml"), english)
    return out


def own_forms(
    templates: Path, only: set[str] | None
) -> dict[str, tuple[bytes, TemplateSpec, bool]]:
    """The project's own forms, imported from their blank fillable PDFs like any other."""
    out = {}
    for form in all_forms():
        if only is not None and form.id not in only:
            continue
        pdf = templates.parent / "pdf" / f"{form.id}.pdf"
        pdf.parent.mkdir(parents=True, exist_ok=True)
        pdf.write_bytes(blank_pdf(form))
        report = import_pdf(pdf, form.id, templates, language="swe")
        out[form.id] = (pdf.read_bytes(), read_spec(report.folder / "template.yaml"), False)
    return out


def as_a_person_writes(
    spec: TemplateSpec, printed: dict[str, str | bool], rng: random.Random
) -> dict[str, str | bool]:
    """Values the generator cut to fit a box but no person would write: a date box too
    narrow for 2026-03-14 gets 20260314 (the PDF shrinks the font to fit), and a field
    whose pattern wants digits only (a ZIP code) gets digits that match it."""
    out = dict(printed)
    for f in spec.fields:
        v = out.get(f.name)
        if not isinstance(v, str) or not v:
            continue
        if f.type == "date" and check_type("date", v).issues:
            day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(300))
            out[f.name] = f"{day:%Y%m%d}"
        for r in f.rules:
            if r.name == "regex" and not re.fullmatch(r.arg, v):
                for n in range(1, 13):
                    digits = "".join(str(rng.randrange(10)) for _ in range(n))
                    if re.fullmatch(r.arg, digits):
                        out[f.name] = digits
                        break
    return out


def write_scan(path: Path, pages: list[np.ndarray], level: str, dpi: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if level == "fax":
        path = path.with_suffix(".tif")
        path.write_bytes(g4_tiff(pages, dpi))
    else:
        path = path.with_suffix(".pdf")
        path.write_bytes(scanned_pdf(pages, quality=90 if level == "clean" else 75))
    return path


def make(
    out: Path,
    count: int,
    levels: list[str],
    seed: int,
    real: Path | None,
    values: str = "ordinary",
    only: set[str] | None = None,
) -> None:
    templates = out / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    sources = own_forms(templates, only)
    if real is not None:
        sources |= import_real(real, templates, only)
    for tid, (pdf, spec, english) in sources.items():
        lens = max_lengths(pdf)
        for level in levels:
            rng = random.Random(f"{seed}-{tid}-{level}")
            n_pages = 0
            i = 0
            while n_pages < count:
                printed = choose_values(spec, rng, lens, english=english)
                if values == "diacritics" and not english:
                    printed = make_heavy(spec, printed, rng, lens)
                printed = as_a_person_writes(spec, printed, rng)
                clean = render_filled(fill_pdf(pdf, spec, printed))
                scans = [degrade(img, rng, level) for img in clean]
                path = write_scan(
                    out / level / tid / f"{i:03d}", [s[0] for s in scans], level, scans[0][2]
                )
                truth = {
                    "generator": "bench/corpus.py",
                    "seed": seed,
                    "level": level,
                    "dpi": scans[0][2],
                    "transform": [s[1].round(6).tolist() for s in scans],
                    "values": values,
                    "origin": "real" if tid in REAL else "generated",
                    "records": [
                        {
                            "status": "accepted",
                            "template": tid,
                            "pages": list(range(1, len(clean) + 1)),
                            "fields": expected(spec, printed),
                        }
                    ],
                }
                path.with_name(path.name + ".expected.json").write_text(
                    json.dumps(truth, ensure_ascii=False), encoding="utf-8"
                )
                n_pages += len(clean)
                i += 1
            print(f"{level:7} {tid:20} {i} files, {n_pages} pages")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "corpus")
    ap.add_argument(
        "--count", type=int, default=30, help="at least this many pages per form and level"
    )
    ap.add_argument("--levels", default=",".join(LEVELS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--real", type=Path, help="../shared/forms: also the real forms")
    ap.add_argument(
        "--values",
        choices=VALUE_SETS,
        default="ordinary",
        help="diacritics: free text of the Swedish forms heavy in åäöÅÄÖ",
    )
    ap.add_argument("--forms", help="only these template ids, comma-separated")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    only = set(args.forms.split(",")) if args.forms else None
    make(args.out, args.count, args.levels.split(","), args.seed, args.real, args.values, only)


if __name__ == "__main__":
    main()
