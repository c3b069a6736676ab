"""Scoring records against expected values: exact match, character accuracy, flags.

Used by the golden tests, ``blankett evaluate`` and the benchmarks. Expected values sit
beside each sample as ``<file>.expected.json`` (written by the sample generator): a list
of records with ``template``, ``pages``, ``status`` and normalized ``fields``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.fieldtypes import MARK_TYPES
from pipeline.records import Record
from pipeline.templates.load import Template

EXPECTED_SUFFIX = ".expected.json"


@dataclass(frozen=True)
class FieldScore:
    file: str
    template: str
    name: str
    kind: str  # "mark" for checkboxes/signatures/choices, "text" otherwise
    expected: Any
    got: Any
    flagged: bool
    confidence: float = 1.0
    has_issues: bool = False

    @property
    def exact(self) -> bool:
        return _norm(self.expected) == _norm(self.got)

    @property
    def char_accuracy(self) -> float:
        e, g = _norm(self.expected), _norm(self.got)
        if isinstance(e, bool) or isinstance(g, bool):
            return 1.0 if e == g else 0.0
        es, gs = e or "", g or ""
        if not es:
            return 1.0 if not gs else 0.0
        return max(0.0, 1.0 - levenshtein(es, gs) / len(es))


@dataclass(frozen=True)
class RecordScore:
    file: str
    expected_status: str
    got_status: str | None
    template_ok: bool


def _norm(v: Any) -> Any:
    return None if v in ("", None) else v


def mark_fields(templates: Iterable[Template], template_id: str | None = None) -> set[str]:
    """Names of the fields scored as marks (checkbox, choice, signature), not as text."""
    return {
        f.name
        for t in templates
        if template_id is None or t.id == template_id
        for f in t.spec.fields
        if f.type in MARK_TYPES
    }


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def expected_for(path: Path) -> list[dict[str, Any]] | None:
    side = path.with_name(path.name + EXPECTED_SUFFIX)
    if not side.is_file():
        return None
    data = json.loads(side.read_text(encoding="utf-8"))
    records: list[dict[str, Any]] = data["records"]
    return records


def score_file(
    path: Path,
    expected: Sequence[dict[str, Any]],
    got: Sequence[Record],
    mark_fields: Iterable[str] = (),
) -> tuple[list[RecordScore], list[FieldScore]]:
    marks = set(mark_fields)
    by_pages = {r.pages: r for r in got}
    records, fields = [], []
    for exp in expected:
        rec = by_pages.get(tuple(exp["pages"]))
        records.append(
            RecordScore(
                file=str(path),
                expected_status=exp["status"],
                got_status=rec.status.value if rec else None,
                template_ok=rec is not None and rec.template_id == exp.get("template"),
            )
        )
        if rec is None or rec.template_id != exp.get("template"):
            continue
        got_fields = {f.name: f for f in rec.fields}
        for name, value in exp.get("fields", {}).items():
            f = got_fields.get(name)
            kind = "mark" if isinstance(value, bool) or name in marks else "text"
            fields.append(
                FieldScore(
                    str(path),
                    rec.template_id or "",
                    name,
                    kind,
                    value,
                    f.value if f else None,
                    f.needs_review if f else True,
                    f.confidence if f else 0.0,
                    bool(f.issues) if f else True,
                )
            )
    return records, fields


@dataclass(frozen=True)
class Summary:
    records: int
    records_right: int
    text_fields: int
    text_exact: int
    char_accuracy: float
    marks: int
    marks_right: int
    flagged: int
    wrong_unflagged: int

    def as_dict(self) -> dict[str, Any]:
        def pct(a: int, b: int) -> float:
            return round(100.0 * a / b, 2) if b else 100.0

        return {
            "records": self.records,
            "records_identified_right": self.records_right,
            "text_fields": self.text_fields,
            "text_exact_pct": pct(self.text_exact, self.text_fields),
            "char_accuracy_pct": round(100 * self.char_accuracy, 2),
            "marks": self.marks,
            "marks_right_pct": pct(self.marks_right, self.marks),
            "flagged_pct": pct(self.flagged, self.text_fields + self.marks),
            "wrong_unflagged": self.wrong_unflagged,
        }


def summarize(records: Sequence[RecordScore], fields: Sequence[FieldScore]) -> Summary:
    text = [f for f in fields if f.kind == "text"]
    marks = [f for f in fields if f.kind == "mark"]
    return Summary(
        records=len(records),
        records_right=sum(
            r.got_status is not None
            and (r.template_ok or r.expected_status == r.got_status == "unidentified")
            for r in records
        ),
        text_fields=len(text),
        text_exact=sum(f.exact for f in text),
        char_accuracy=(sum(f.char_accuracy for f in text) / len(text)) if text else 1.0,
        marks=len(marks),
        marks_right=sum(f.exact for f in marks),
        flagged=sum(f.flagged for f in fields),
        wrong_unflagged=sum((not f.exact) and (not f.flagged) for f in fields),
    )


def field_table(fields: Sequence[FieldScore]) -> list[str]:
    """A per-field table: samples, exact %, character accuracy %, flagged %."""
    by_name: dict[str, list[FieldScore]] = {}
    for f in fields:
        by_name.setdefault(f.name, []).append(f)
    width = max((len(n) for n in by_name), default=5)
    lines = [f"{'field':{width}}  {'n':>4}  {'exact%':>7}  {'chars%':>7}  {'flagged%':>8}"]
    for name, fs in by_name.items():
        n = len(fs)
        exact = 100.0 * sum(f.exact for f in fs) / n
        chars = 100.0 * sum(f.char_accuracy for f in fs) / n
        flagged = 100.0 * sum(f.flagged for f in fs) / n
        mark = "  <-- wrong and unflagged" if any(not f.exact and not f.flagged for f in fs) else ""
        lines.append(f"{name:{width}}  {n:4d}  {exact:7.1f}  {chars:7.1f}  {flagged:8.1f}{mark}")
    return lines


def straight_through(
    fields: Sequence[FieldScore], thresholds: Sequence[float]
) -> list[tuple[float, float, float]]:
    """(threshold, straight-through rate, residual error among auto-accepted) per threshold.

    A field goes straight through when its confidence reaches the threshold and it has no
    issue; the residual error is the share of those that are wrong.
    """
    out = []
    n = len(fields)
    for t in thresholds:
        auto = [f for f in fields if f.confidence >= t and not f.has_issues]
        wrong = sum(not f.exact for f in auto)
        out.append((t, len(auto) / n if n else 0.0, wrong / len(auto) if auto else 0.0))
    return out
