"""A varied corpus for fitting and checking the confidence calibration: one-page forms
with random layouts and every kind of typed field, filled in several fonts at 7-12 pt
and scanned at several levels (clean, office, fax, harsh).

Calibration learns how often a reading with given evidence is right; it only holds for
scans like those it saw, so the corpus spreads over what real forms and scanners do:
tight and roomy boxes, small print, 200-dpi bilevel faxes, worn and warped pages, and
values heavy in å/ä/ö. ``training/fit_confidence.py`` fits on it; the tests check the
shipped calibration on a fixed slice (another seed).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.samplegen import values as V
from pipeline.samplegen.build import _save, expected_values, g4_tiff, scanned_pdf, write_template
from pipeline.samplegen.degrade import degrade
from pipeline.samplegen.diacritics import WORDS as MARKED_WORDS
from pipeline.samplegen.forms import BOX_H, ORG, PAGE_H, FormDef, PageBuilder
from pipeline.samplegen.render import filled_pdf, rasterize

FACES = ("Helvetica", "Times-Roman", "Courier", "Helvetica-Bold", "Times-Italic")
SIZES = (7.0, 8.0, 9.0, 10.0, 11.0, 12.0)
TODAY = dt.date(2026, 11, 2)

Maker = Callable[[random.Random], str]


def _text(rng: random.Random) -> str:
    p = V.person(rng)
    return rng.choice(
        [
            f"{p['first']} {p['last']}",
            p["street"],
            p["town"],
            f"{rng.choice(MARKED_WORDS)} {rng.choice(MARKED_WORDS).lower()}",
            rng.choice(V.NEEDS),
            rng.choice(V.EMPLOYERS),
            f"{p['first']} {rng.choice(MARKED_WORDS)}",
        ]
    )


# Type -> (label, value maker).
KINDS: dict[str, tuple[str, Maker]] = {
    "text": ("Uppgift", _text),
    "personnummer": ("Personnummer", lambda r: V.personnummer(r)),
    "organisationsnummer": ("Organisationsnummer", V.organisationsnummer),
    "bankgiro": ("Bankgiro", V.bankgiro),
    "postnummer": ("Postnummer", V.postnummer),
    "phone": ("Telefon", V.phone),
    "date": ("Datum", lambda r: V.date(r, TODAY - dt.timedelta(days=400), 400)),
    "amount": ("Belopp", V.amount),
    "number": ("Antal", lambda r: str(r.randrange(1, 99999))),
    "email": ("E-post", lambda r: V.person(r)["email"]),
}
_WEIGHTS = {"text": 6}
# Rows of one-character boxes (codes, numbers printed box by box): digits or capitals.
CELL_PREFIX = "cell"
CELL_CHARS = {"d": "0123456789", "a": "ABCDEFGHIJKLMNOPRSTUVXYZÅÄÖ"}


def varied_form(seed: int) -> FormDef:
    """A one-page form of random typed rows and checkboxes."""
    rng = random.Random(seed)
    b = PageBuilder()
    b.header(ORG, f"Blankett för kalibrering {seed}", f"K {seed}", 1, 1)
    kinds = [k for k in KINDS for _ in range(_WEIGHTS.get(k, 1))]
    n = 0
    while b.y < PAGE_H - 150:
        b.section(f"{n + 1}. Uppgifter")
        roll = rng.random()
        if roll < 0.2:
            b.checks(*[(f"c{n}_{i}", "Ja") for i in range(rng.randint(2, 4))])
        elif roll < 0.32:
            chars = "d" if rng.random() < 0.7 else "a"
            w, h = rng.uniform(14.0, 24.0), rng.choice([18.0, 20.0, 24.0])
            b.cells(f"{CELL_PREFIX}{chars}{n}_", "text", rng.randint(3, 10), w, h)
        elif roll < 0.44:
            # Tight boxes that cut descenders off, with no label inside (real forms print
            # it beside or above).
            cells = [(f"f{n}_{i}", "text", "", rng.randint(1, 3)) for i in range(rng.randint(1, 2))]
            b.row(*cells, h=rng.choice([11.0, 12.0, 13.0]), clip=True)
        else:
            cells = []
            for i in range(rng.randint(1, 3)):
                kind = rng.choice(kinds)
                cells.append((f"f{n}_{i}", kind, KINDS[kind][0], rng.randint(1, 3)))
            b.row(*cells, h=rng.choice([BOX_H - 6, BOX_H, BOX_H]))
        n += 1
    return FormDef(
        id=f"kalib-{seed}",
        title=f"Kalibrering {seed}",
        code=f"K {seed}",
        version=1,
        pages=(b.page(),),
    )


def _fitting(make: Maker, rng: random.Random, face: str, size: float, width: float) -> str:
    """A value that fits the box at this size, as a PDF field or a careful writer keeps
    it: the truth of a value cut off at the box's edge is not on the page."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    room = width - 8 - 6  # the renderer's left pad and its largest random shift
    value = make(rng)
    for _ in range(20):
        if stringWidth(value, face, size) <= room:
            return value
        value = make(rng)
    words = value.split()
    while len(words) > 1 and stringWidth(" ".join(words), face, size) > room:
        words.pop()
    return " ".join(words)


def _value(name: str, ftype: str, rng: random.Random, face: str, size: float, width: float) -> str:
    if name.startswith(CELL_PREFIX):
        return rng.choice(CELL_CHARS[name[len(CELL_PREFIX)]])
    return _fitting(KINDS[ftype][1], rng, face, size, width)


@dataclass(frozen=True)
class Written:
    path: Path
    level: str
    face: str
    size: float


def generate(
    out: Path, forms: int, per_form: int, levels: tuple[str, ...], seed: int
) -> Iterator[Written]:
    """Templates under ``out/templates``, scans with truth under ``out/<level>/``."""
    for k in range(forms):
        # One generator per form: a form's scans do not depend on the forms before it.
        rng = random.Random(seed * 1000 + k)
        form = varied_form(seed * 1000 + k)
        write_template(form, out / "templates" / form.id)
        for i in range(per_form):
            face, size = rng.choice(FACES), rng.choice(SIZES)
            printed: dict[str, str | bool] = {}
            for f in form.fields():
                if f.type == "checkbox":
                    printed[f.name] = rng.random() < 0.5
                elif rng.random() < 0.85:
                    printed[f.name] = _value(f.name, f.type, rng, face, size, f.w)
            clean = rasterize(filled_pdf(form, printed, rng, faces=(face,), sizes=(size,)))
            truth = {
                "status": "accepted",
                "template": form.id,
                "pages": [1],
                "fields": expected_values(form, printed),
                "expect_issues": {},
            }
            for level in levels:
                scan, _, dpi = degrade(clean[0], rng, level)
                name = f"{form.id}-{i:02d}"
                if level == "fax":
                    path, data = out / level / f"{name}.tif", g4_tiff([scan], dpi)
                else:
                    path, data = out / level / f"{name}.pdf", scanned_pdf([scan])
                _save(path, data, [truth], seed)
                yield Written(path, level, face, size)
