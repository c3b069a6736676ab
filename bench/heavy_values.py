"""The diacritics-heavy value set for the corpus builder (``corpus.py --values diacritics``).

Text fields of the Swedish forms get names, places, streets and short phrases full of
å, ä, ö, Å, Ä and Ö instead of the ordinary mix, so that the benchmark counts how many of
those marks the pipeline loses on real forms (``samplegen.diacritics.lost_marks``). The
words come from the generator's own sources (``samplegen.values``,
``samplegen.diacritics``); only the few small words that join them into phrases are here.
"""

from __future__ import annotations

import random

from pipeline.samplegen import diacritics as d
from pipeline.samplegen import values as V
from pipeline.templates.schema import FieldSpec, TemplateSpec

MARKS = "åäöÅÄÖ"
# Small words that join the sources' words into the kind of phrase a free-text box holds.
_JOINS = ("på", "över", "för", "från", "även", "närmast")


def _heavy(words: list[str] | tuple[str, ...]) -> list[str]:
    return [w for w in words if any(c in MARKS for c in w)]


def marks(text: str) -> int:
    return sum(c in MARKS for c in text)


def _pool(rng: random.Random) -> list[str]:
    """Candidates of several lengths, each with at least one mark, most with several."""
    first, last = _heavy(V.FIRST), _heavy(V.LAST)
    streets, towns = _heavy(V.STREETS), _heavy(V.TOWNS)
    words = _heavy(d.WORDS)
    return [
        f"{rng.choice(first)} {rng.choice(last)}",
        f"{rng.choice(last)}, {rng.choice(first)}",
        f"{rng.choice(streets)} {rng.randrange(1, 80)}",
        f"{V.postnummer(rng)} {rng.choice(towns)}",
        rng.choice(towns),
        rng.choice(words),
        f"Klämskada {rng.choice(_JOINS)} överarm",  # the issue's own example, varied
        f"{rng.choice(streets)} {rng.choice(_JOINS)} {rng.choice(towns)}",
        f"{rng.choice(_heavy(V.EMPLOYERS))}, {rng.choice(towns)}",
        rng.choice(_heavy(V.EMPLOYERS)),
        rng.choice(_heavy(V.NEEDS)),
        f"{rng.choice(first)} {rng.choice(last)}, {rng.choice(streets)} {rng.randrange(1, 80)}",
    ]


def heavy_value(rng: random.Random, fit: int) -> str:
    """A value of at most ``fit`` characters, as heavy in marks as the room allows."""
    fitting = [s for s in _pool(rng) if len(s) <= fit]
    if not fitting:
        # Tight boxes: the shortest heavy word cut to the room, still with a mark if it can.
        word = min(_heavy(d.WORDS), key=len)
        return word[:fit]
    best = max(marks(s) for s in fitting)
    # Among the heaviest, any; a little variety in length keeps the layouts apart.
    return rng.choice([s for s in fitting if marks(s) >= max(1, best - 1)])


def _fit(f: FieldSpec, max_len: int | None) -> int:
    """Characters that fit the box, as ``samplegen.fillpdf`` reckons (about 6.2 pt each)."""
    assert f.box is not None
    fit = max(1, int(f.box[2] / 6.2))
    if max_len:
        fit = min(fit, max_len)
    if f.ocr.comb:
        fit = min(fit, f.ocr.comb)
    return fit


def make_heavy(
    spec: TemplateSpec,
    printed: dict[str, str | bool],
    rng: random.Random,
    max_lens: dict[str, int],
) -> dict[str, str | bool]:
    """``printed`` with every filled free-text field (type text, no ``in`` rule, room for
    more than three characters) given a diacritics-heavy value; one PDF field shown in
    several places keeps one value."""
    out = dict(printed)
    by_source: dict[str, str] = {}
    for f in spec.fields:
        v = out.get(f.name)
        if f.type != "text" or not isinstance(v, str) or not v or f.box is None:
            continue
        if any(r.name == "in" for r in f.rules):
            continue
        fit = _fit(f, max_lens.get(f.source or ""))
        if fit <= 3:  # digit cells (diagnosis codes and the like) keep their digits
            continue
        key = f.source or f.name
        if key not in by_source:
            by_source[key] = heavy_value(rng, fit)
        out[f.name] = by_source[key]
    return out
