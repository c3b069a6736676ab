"""Assemble the samples: templates, blank forms, filled scan-like files and their truth."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from reportlab.pdfgen.canvas import Canvas

from pipeline.records import Gray
from pipeline.rules import check_type
from pipeline.samplegen import values as V
from pipeline.samplegen.degrade import ScanStyle, bilevel, scan_like
from pipeline.samplegen.forms import FormDef, all_forms, felanmalan
from pipeline.samplegen.render import blank_pdf, filled_pdf, rasterize, reference_pdf
from pipeline.templates.yamlio import dump_yaml

DPI = 300
TODAY = dt.date(2026, 11, 2)  # fixed, so the same seed gives the same files


def fill(form: FormDef, rng: random.Random) -> dict[str, str | bool]:
    """Printed values for one filled instance of ``form``."""
    p = V.person(rng)
    v: dict[str, str | bool] = {}
    if form.id == "parkeringstillstand":
        driver = rng.random() < 0.5
        renew = rng.random() < 0.5
        v |= {
            "galler_forare": driver,
            "galler_passagerare": not driver,
            "ny_ansokan": not renew,
            "fornyelse": renew,
            "fornamn": p["first"],
            "efternamn": p["last"],
            "personnummer": p["pnr"],
            "telefon": p["phone"],
            "utdelningsadress": p["street"],
            "postnummer": p["zip"],
            "postort": p["town"],
            "epost": p["email"] if rng.random() < 0.7 else "",
            "datum": V.date(rng, TODAY - dt.timedelta(days=30), 30),
            "namnteckning": True,
            "svar_via": rng.choice(["post", "epost", "hamtas"]),
        }
        if renew:
            v["tidigare_nummer"] = str(rng.randrange(10000, 999999))
            v["tidigare_giltigt"] = V.date(rng, TODAY, 60)
    elif form.id == "forskoleplats":
        child = V.personnummer(rng, (2022, 2025))
        which = rng.choice(["omfattning_heltid", "omfattning_deltid", "omfattning_allman"])
        stod = rng.random() < 0.4
        v |= {
            "barn_fornamn": rng.choice(V.FIRST),
            "barn_efternamn": p["last"],
            "barn_personnummer": child.replace("-", ""),
            "startdatum": V.date(rng, TODAY + dt.timedelta(days=120), 90),
            "vh_namn": f"{p['first']} {p['last']}",
            "vh_personnummer": p["pnr"],
            "vh_adress": p["street"],
            "vh_postnummer": p["zip"],
            "vh_postort": p["town"],
            "vh_telefon": p["phone"],
            "vh_epost": p["email"],
            "arbetsgivare": rng.choice(V.EMPLOYERS),
            "arbetsgivare_orgnr": V.organisationsnummer(rng),
            "inkomst": V.amount(rng),
            "bankgiro": V.bankgiro(rng) if rng.random() < 0.5 else "",
            "omfattning_heltid": False,
            "omfattning_deltid": False,
            "omfattning_allman": False,
            "forskola_1": rng.choice(V.PRESCHOOLS),
            "forskola_2": rng.choice(V.PRESCHOOLS),
            "behov_kost": rng.random() < 0.3,
            "behov_sprak": rng.random() < 0.3,
            "behov_stod": stod,
            "behov_beskrivning": rng.choice(V.NEEDS) if stod else "",
            "medgivande": True,
            "datum": V.date(rng, TODAY - dt.timedelta(days=20), 20),
            "namnteckning": True,
        }
        v[which] = True
    else:
        v |= {
            "plats": f"{rng.choice(V.STREETS)} {rng.randrange(1, 60)}",
            "beskrivning": "Gatlampan vid busshållplatsen är trasig sedan en vecka.",
            "namn": f"{p['first']} {p['last']}",
            "tel": p["phone"],
            "aterkoppling": True,
        }
    return v


def expected_values(form: FormDef, printed: Mapping[str, str | bool]) -> dict[str, Any]:
    """The normalized value the pipeline should report for each field."""
    out: dict[str, Any] = {}
    for f in form.fields():
        raw = printed.get(f.name, "")
        if f.type in ("checkbox", "signature"):
            out[f.name] = bool(raw)
        elif f.type == "choice":
            out[f.name] = raw or None
        else:
            out[f.name] = check_type(f.type, str(raw)).value
    return out


def template_dict(form: FormDef) -> dict[str, Any]:
    def r(x: float) -> float:
        return round(x, 2)

    fields = []
    for f in form.fields():
        page = next(i for i, p in enumerate(form.pages, 1) if f in p.fields)
        d: dict[str, Any] = {
            "name": f.name,
            "page": page,
            "type": f.type,
            "label": f.label,
        }
        if f.options:
            d["options"] = [
                {"value": v, "box": [r(x), r(y), r(f.h), r(f.h)]} for v, _, x, y in f.options
            ]
        else:
            d["box"] = [r(f.x), r(f.y), r(f.w), r(f.h)]
        ocr: dict[str, Any] = {}
        if f.comb:
            ocr["comb"] = f.comb
        if f.multiline:
            ocr["single_line"] = False
        if ocr:
            d["ocr"] = ocr
        if f.rules:
            d["rules"] = list(f.rules)
        fields.append(d)
    return {
        "id": form.id,
        "version": form.version,
        "title": form.title,
        "pages": [
            {"number": i, "image": f"page-{i}.png", "width": 595.28, "height": 841.89}
            for i in range(1, len(form.pages) + 1)
        ],
        "fields": fields,
        "groups": [dict(g) for g in form.groups],
    }


def write_template(form: FormDef, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(rasterize(reference_pdf(form), DPI), start=1):
        cv2.imwrite(str(folder / f"page-{i}.png"), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    text = dump_yaml(template_dict(form))
    (folder / "template.yaml").write_text(
        "# Generated by `blankett samples` from pipeline/samplegen/forms.py; edit freely.\n" + text,
        encoding="utf-8",
    )


@dataclass
class Instance:
    form: FormDef
    printed: dict[str, str | bool]
    pages: list[Gray] = field(default_factory=list)  # degraded


def make_instance(
    form: FormDef, rng: random.Random, style: ScanStyle, tweak: Mapping[str, str] | None = None
) -> Instance:
    printed = fill(form, rng) | dict(tweak or {})
    clean = rasterize(filled_pdf(form, printed, rng), DPI)
    return Instance(form, printed, [scan_like(img, rng, style)[0] for img in clean])


def _jpeg(img: Gray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def _png(img: Gray, dpi: int) -> bytes:
    small = cv2.resize(img, None, fx=dpi / DPI, fy=dpi / DPI, interpolation=cv2.INTER_AREA)
    buf = io.BytesIO()
    Image.fromarray(small).save(buf, format="PNG", dpi=(dpi, dpi), optimize=True)
    return buf.getvalue()


def scanned_pdf(pages: Sequence[Gray], quality: int = 70) -> bytes:
    """A PDF as scanners make it: one JPEG per page, filling the page."""
    from reportlab.lib.utils import ImageReader

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(595.28, 841.89), invariant=True)
    for img in pages:
        c.drawImage(ImageReader(io.BytesIO(_jpeg(img, quality))), 0, 0, 595.28, 841.89)
        c.showPage()
    c.save()
    return buf.getvalue()


def g4_tiff(pages: Sequence[Gray], dpi: int = DPI) -> bytes:
    frames = [Image.fromarray(bilevel(p)).convert("1") for p in pages]
    buf = io.BytesIO()
    frames[0].save(
        buf,
        format="TIFF",
        compression="group4",
        dpi=(dpi, dpi),
        save_all=True,
        append_images=frames[1:],
    )
    return buf.getvalue()


def _blank_page(rng: random.Random) -> Gray:
    white = np.full((3508, 2480), 255, np.uint8)
    return scan_like(white, rng, ScanStyle())[0]


def _truth(
    inst: Instance, pages: list[int], issues: Mapping[str, list[str]] | None = None
) -> dict[str, Any]:
    return {
        "status": "needs_review" if issues else "accepted",
        "template": inst.form.id,
        "pages": pages,
        "fields": expected_values(inst.form, inst.printed),
        "expect_issues": dict(issues or {}),
    }


def _save(path: Path, data: bytes, records: list[dict[str, Any]], seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    meta = {"generator": "blankett samples", "seed": seed, "records": records}
    path.with_name(path.name + ".expected.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


STYLES: Mapping[str, ScanStyle] = {
    "clean": ScanStyle(
        rotate_deg=0,
        scale=0,
        shift_px=0,
        perspective_px=0,
        blur_sigma=(0.01, 0.02),
        noise_sigma=(0, 0.01),
        paper=(255, 255),
    ),
    "office": ScanStyle(),
    "upside_down": ScanStyle(upside_down=True),
}


def generate_corpus(
    out: Path,
    count: int,
    *,
    seed: int = 1,
    style: str = "office",
    forms: Sequence[FormDef] | None = None,
) -> list[Path]:
    """``count`` filled instances of each form as scanned PDFs with truth beside them."""
    rng = random.Random(seed)
    written = []
    for form in forms or all_forms():
        for i in range(count):
            inst = make_instance(form, rng, STYLES[style])
            path = out / form.id / f"{style}-{i:03d}.pdf"
            _save(
                path,
                scanned_pdf(inst.pages),
                [_truth(inst, list(range(1, len(inst.pages) + 1)))],
                seed,
            )
            written.append(path)
    return written


def generate(out: Path, templates_out: Path | None, *, seed: int = 7) -> None:
    """Write the committed sample set and, optionally, the templates."""
    rng = random.Random(seed)
    forms = {f.id: f for f in all_forms()}
    if templates_out is not None:
        for form in forms.values():
            write_template(form, templates_out / form.id)
    for form in (*forms.values(), felanmalan()):
        d = out / form.id
        d.mkdir(parents=True, exist_ok=True)
        (d / "blank.pdf").write_bytes(blank_pdf(form))

    def save(path: Path, data: bytes, records: list[dict[str, Any]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        meta = {"generator": "blankett samples", "seed": seed, "records": records}
        path.with_name(path.name + ".expected.json").write_text(
            json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )

    park, pre = forms["parkeringstillstand"], forms["forskoleplats"]
    office = ScanStyle()

    a = make_instance(park, rng, office)
    save(out / park.id / "scan-01.pdf", scanned_pdf(a.pages), [_truth(a, [1])])

    # A wrong check digit, as citizens write them: the record must go to review.
    b = make_instance(park, rng, ScanStyle(rotate_deg=3, perspective_px=16))
    pnr = str(b.printed["personnummer"])
    bad = pnr[:-1] + str((int(pnr[-1]) + 3) % 10)
    b = make_instance(
        park,
        random.Random(seed + 1),
        ScanStyle(rotate_deg=3, perspective_px=16),
        {"personnummer": bad},
    )
    save(
        out / park.id / "scan-02.jpg",
        _jpeg(b.pages[0], 75),
        [_truth(b, [1], {"personnummer": ["personnummer_checksum"]})],
    )

    # Upside down, from a 200-dpi scanner that says so in the PNG.
    c = make_instance(park, rng, ScanStyle(upside_down=True, noise_sigma=(1, 2)))
    save(out / park.id / "scan-03-upside-down.png", _png(c.pages[0], 200), [_truth(c, [1])])

    d_ = make_instance(pre, rng, office)
    save(out / pre.id / "scan-01.pdf", scanned_pdf(d_.pages), [_truth(d_, [1, 2])])

    e = make_instance(pre, rng, ScanStyle(noise_sigma=(1, 3), blur_sigma=(0.4, 0.7)))
    save(out / pre.id / "scan-02-bilevel.tif", g4_tiff(e.pages), [_truth(e, [1, 2])])

    f1, f2 = make_instance(park, rng, office), make_instance(pre, rng, office)
    pages = [*f1.pages, _blank_page(rng), *f2.pages]
    save(
        out / "mixed" / "two-forms-and-blank.pdf",
        scanned_pdf(pages),
        [_truth(f1, [1]), _truth(f2, [3, 4])],
    )

    u = make_instance(felanmalan(), rng, office)
    save(
        out / "mixed" / "unknown-form.jpg",
        _jpeg(u.pages[0], 75),
        [
            {
                "status": "unidentified",
                "template": None,
                "pages": [1],
                "fields": {},
                "expect_issues": {},
            }
        ],
    )
