"""Error analysis: the wrong text values of one run, each with a guessed cause.

Writes every wrong text value (expected against read, field type, confidence, flagged or
not, form, level, the saved crop) as JSON lines to a file outside the repository (the
values are synthetic, but such a list is not for committing), and prints the counts per
cause. The causes are guessed from the two strings and the field's box; the crops tell
the rest (open them by the ``crop`` path).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rows import FieldRow, RecordRow

from pipeline.evaluate import levenshtein
from pipeline.samplegen.diacritics import lost_marks

MARKS = "åäöÅÄÖ"
_BARE = str.maketrans("åäöÅÄÖ", "aaoAAO")
# Characters a reader confuses by shape; two characters are look-alikes when they share
# a group.
_LOOKALIKE = ("1lI|i!/", "0OoDQ", "5Ss", "8B", "2Zz", "6bG", "9gq", "ce", "un", "-–")
# Glyphs with a part below the line: cut there, g reads a, j reads i, a comma a full stop.
DESCENDERS = "gjpqy,;(Q"
LEVELS = ["clean", "office", "fax", "harsh"]
TIGHT_PT = 12.5  # a box this low leaves no room above capitals or below the line


def _lookalike(a: str, b: str) -> bool:
    return any(a in g and b in g for g in _LOOKALIKE)


def _diffs(e: str, g: str) -> list[tuple[str, str]]:
    return [(x, y) for x, y in zip(e, g, strict=True) if x != y]


def cause(f: FieldRow) -> str:
    """The likeliest cause of one wrong text value, from the strings and the box."""
    e, g = str(f.expected or ""), str(f.got or "")
    if f.type == "?":
        return "identified as another form"
    if not e:
        return "value read where none was written"
    if not g:
        return "nothing read"
    if f.comb and f.type != "text":
        # Digits in comb cells: the cells' printed dividers are read as 1, or take a
        # digit they cross with them.
        return "comb cells: digit lost or divider read"
    if len(e) == 1:
        return "one-character cell"
    if e.translate(_BARE) == g.translate(_BARE):
        return "lost diacritic" if lost_marks(e, g) else "diacritic changed"
    if e.replace(" ", "") == g.replace(" ", ""):
        return "spaces only"
    if e.lower() == g.lower():
        return "letter case only"
    if len(e) == len(g):
        diffs = _diffs(e, g)
        if all(x.translate(_BARE) == y.translate(_BARE) or _lookalike(x, y) for x, y in diffs):
            return "look-alike character"
        if sum(x in DESCENDERS for x, _ in diffs) * 2 >= len(diffs):
            return "descender clipped (g, j, p, q, y, comma)"
    if g.startswith(e[: max(1, len(g) - 1)]) and len(g) < len(e):
        return "end cut off"
    if e in g:
        return "extra characters around the value"
    if not f.single_line:
        return "multi-line box"
    return "other misreading" if levenshtein(e, g) <= 2 else "garbled"


def analyse(
    fields: Sequence[FieldRow], records: Sequence[RecordRow], out: Path
) -> dict[str, object]:
    """Write the wrong text values to ``out`` (JSON lines) and count them by cause."""
    wrong = [f for f in fields if f.kind == "text" and not f.exact]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for f in wrong:
            row = f.as_json() | {"cause": cause(f), "tight": 0 < f.box_h <= TIGHT_PT}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    causes = Counter(cause(f) for f in wrong)
    unflagged = Counter(cause(f) for f in wrong if not f.flagged)
    tight = Counter(cause(f) for f in wrong if 0 < f.box_h <= TIGHT_PT)
    by_level: dict[str, Counter[str]] = {}
    for f in wrong:
        by_level.setdefault(f.level, Counter())[cause(f)] += 1
    unidentified = [r for r in records if not r.identified]
    print(f"\n## Error analysis: {len(wrong)} wrong text values (list: {out})\n")
    levels = sorted(by_level, key=lambda lv: (LEVELS.index(lv) if lv in LEVELS else 9, lv))
    print(
        "| cause | wrong | unflagged | in boxes ≤ 12.5 pt high | "
        + " | ".join(levels)
        + " |\n|---|---|---|---|"
        + "---|" * len(levels)
    )
    for c, n in causes.most_common():
        print(
            f"| {c} | {n} | {unflagged[c]} | {tight[c]} | "
            + " | ".join(str(by_level[lv][c]) for lv in levels)
            + " |"
        )
    print(
        f"\nRecords not found or identified as another form: {len(unidentified)} of "
        f"{len(records)} (" + ", ".join(f"{r.level} {r.form}" for r in unidentified[:12]) + ")"
    )
    return {
        "wrong_text": len(wrong),
        "causes": dict(causes),
        "unflagged": dict(unflagged),
        "records_unidentified": len(unidentified),
    }


def diacritics_lost(fields: Sequence[FieldRow]) -> dict[str, dict[str, int]]:
    """Per level: å/ä/ö written in text fields, and how many came back as the bare letter
    (``samplegen.diacritics.lost_marks``, position by position where the lengths agree)."""
    out: dict[str, dict[str, int]] = {}
    for f in fields:
        if f.kind != "text" or not isinstance(f.expected, str):
            continue
        t = out.setdefault(f.level, {"marks": 0, "lost": 0, "fields_with_marks": 0})
        n = sum(c in MARKS for c in f.expected)
        if n:
            t["marks"] += n
            t["fields_with_marks"] += 1
            t["lost"] += lost_marks(f.expected, str(f.got or ""))
    return out
