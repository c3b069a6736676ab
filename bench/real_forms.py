"""Real government forms end to end: import the fillable PDF, apply the admin's hand
edits, fill N copies through the PDF's own fields, render, degrade like an office
scanner, process, and score. Not run by CI (it needs ../shared/forms).

    .venv/bin/python bench/real_forms.py ../shared/forms --count 10 --out /tmp/realforms

The hand edits per form live in bench/real_forms/<id>.yaml: field name -> keys to set
(type, rules, ocr ...), or null to drop a field. They are what an admin changed after
`blankett template import-pdf`.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import yaml

from pipeline.compose import open_context
from pipeline.config import load_config
from pipeline.evaluate import expected_for, score_file, summarize
from pipeline.run import process_file
from pipeline.samplegen.build import scanned_pdf
from pipeline.samplegen.degrade import ScanStyle, scan_like
from pipeline.samplegen.fillpdf import choose_values, expected, fill_pdf, max_lengths, render_filled
from pipeline.templates.importer import import_pdf
from pipeline.templates.load import read_spec
from pipeline.templates.yamlio import dump_yaml

HERE = Path(__file__).resolve().parent
FORMS = {  # id: (file, OCR language, English values)
    "fk7804": ("fk7804_v2.pdf", "swe", False),
    "tstrk1031": ("TSTRK1031-V03U10.pdf", "swe", False),
    "w9": ("fw9_rev2018-10.pdf", "eng", True),
}


def apply_edits(template_yaml: Path, edits: dict[str, Any]) -> int:
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("forms", type=Path)
    ap.add_argument("--out", type=Path, default=Path("/tmp/realforms"))
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    tdir = args.out / "templates"
    rng = random.Random(args.seed)
    for tid, (fname, lang, english) in FORMS.items():
        pdf_path = args.forms / fname
        report = import_pdf(pdf_path, tid, tdir, language=lang)
        edits_file = HERE / "real_forms" / f"{tid}.yaml"
        edits = (
            yaml.safe_load(edits_file.read_text(encoding="utf-8")) if edits_file.exists() else {}
        )
        n_edits = apply_edits(report.folder / "template.yaml", edits or {})
        spec = read_spec(report.folder / "template.yaml")
        pdf = pdf_path.read_bytes()
        lens = max_lengths(pdf)
        print(
            f"{tid}: imported {report.fields} fields, {len(report.skipped)} skipped, "
            f"{n_edits} edited by hand"
        )
        for i in range(args.count):
            printed = choose_values(spec, rng, lens, english=english)
            pages = [
                scan_like(img, rng, ScanStyle())[0]
                for img in render_filled(fill_pdf(pdf, spec, printed))
            ]
            out = args.out / "scans" / tid / f"{i:03d}.pdf"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(scanned_pdf(pages))
            truth = {
                "records": [
                    {
                        "status": "accepted",
                        "template": tid,
                        "pages": list(range(1, len(pages) + 1)),
                        "fields": expected(spec, printed),
                    }
                ]
            }
            out.with_name(out.name + ".expected.json").write_text(
                json.dumps(truth, ensure_ascii=False), encoding="utf-8"
            )
    cfg = load_config(HERE.parent / "config.yaml")
    cfg = cfg.model_copy(update={"templates_dir": tdir, "data_dir": args.out / "data"})
    with open_context(cfg, store=False) as ctx:
        for tid in FORMS:
            t0 = time.perf_counter()
            marks = {
                f.name
                for t in ctx.templates
                if t.id == tid
                for f in t.spec.fields
                if f.type in ("checkbox", "choice", "signature")
            }
            recs, fields, pages = [], [], 0
            for path in sorted((args.out / "scans" / tid).glob("*.pdf")):
                got = process_file(path, ctx)
                pages += sum(len(r.pages) for r in got)
                r, f = score_file(path, expected_for(path) or [], got, marks)
                recs += r
                fields += f
            s = summarize(recs, fields).as_dict()
            wrong = {}
            for f in fields:
                if not f.exact:
                    wrong[f.name] = wrong.get(f.name, 0) + 1
            print(
                f"{tid}: {s['records_identified_right']}/{s['records']} identified, "
                f"text {s['text_exact_pct']} % exact of {s['text_fields']}, chars "
                f"{s['char_accuracy_pct']} %, marks {s['marks_right_pct']} % of {s['marks']}, "
                f"flagged {s['flagged_pct']} %, wrong unflagged {s['wrong_unflagged']}, "
                f"{pages / (time.perf_counter() - t0):.2f} pages/s"
            )
            worst = sorted(wrong.items(), key=lambda kv: -kv[1])[:8]
            print(f"   most often wrong: {worst}")


if __name__ == "__main__":
    main()
