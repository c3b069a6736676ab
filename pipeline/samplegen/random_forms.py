"""Random one-page municipal forms of one family, for scaling tests and benchmarks that
need many templates that look alike (``bench/identify_scaling.py``)."""

from __future__ import annotations

from pipeline.samplegen.forms import BOX_H, ORG, PAGE_H, FormDef, PageBuilder

_WORDS = [
    "Ansökan",
    "Anmälan",
    "Intyg",
    "Begäran",
    "Ändring",
    "Uppsägning",
    "Redovisning",
    "Bidrag",
    "Tillstånd",
    "Bygglov",
    "Avfall",
    "Hemtjänst",
    "Färdtjänst",
    "Skolskjuts",
    "Borgerlig",
    "vigsel",
    "Serveringstillstånd",
    "Miljö",
    "Livsmedel",
    "Parkering",
    "Bostadsanpassning",
    "Ekonomiskt",
    "bistånd",
    "Kulturstöd",
]
_LABELS = [
    "Namn",
    "Adress",
    "Postnummer",
    "Ort",
    "Telefon",
    "E-post",
    "Personnummer",
    "Datum",
    "Belopp",
    "Fastighet",
    "Organisationsnummer",
    "Kontaktperson",
    "Beskrivning",
    "Ärende",
    "Kommentar",
    "Underskrift",
    "Bankgiro",
    "Plusgiro",
    "Antal",
    "Period",
    "Skola",
    "Klass",
    "Avdelning",
    "Handläggare",
]


def random_form(seed: int, form_id: str | None = None) -> FormDef:
    """A plausible one-page municipal form with a random layout: for scaling tests and
    benchmarks that need many templates of the same family."""
    import random

    rng = random.Random(seed)
    title = f"{rng.choice(_WORDS)} om {rng.choice(_WORDS).lower()} {seed}"
    code = f"X {1000 + seed}"
    b = PageBuilder()
    b.header(ORG, title, code, 1, 1)
    b.note(
        *[
            " ".join(rng.choice(_LABELS).lower() for _ in range(rng.randint(8, 14)))
            for _ in range(rng.randint(1, 3))
        ]
    )
    n = 0
    while b.y < PAGE_H - 160:
        b.section(f"{len(b.texts)}. {rng.choice(_WORDS)}")
        for _ in range(rng.randint(1, 3)):
            kind = rng.random()
            if kind < 0.2:
                b.checks(
                    *[(f"c{n}_{i}", rng.choice(_LABELS)) for i in range(rng.randint(2, 4))],
                    per_row=rng.randint(2, 4),
                )
            else:
                cells = [
                    (f"f{n}_{i}", "text", rng.choice(_LABELS), rng.randint(1, 3))
                    for i in range(rng.randint(1, 3))
                ]
                b.row(*cells, h=rng.choice([BOX_H, BOX_H, 44.0]))
            n += 1
            if b.y > PAGE_H - 160:
                break
    return FormDef(
        id=form_id or f"slump-{seed}", title=title, code=code, version=1, pages=(b.page(),)
    )
