"""One row per scored field and per expected record, with what the benchmark's analyses
need beyond ``pipeline.evaluate``'s scores: the field type, its box, the issues, the saved
crop, and per record whether anything in it would stop it from going straight through.

``curves.py`` sweeps the acceptance threshold over these rows, ``errors.py`` lists and
classifies the wrong values. Rows are plain data so that a run can save them (JSON).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pipeline.evaluate import FieldScore
from pipeline.records import Record, RecordStatus
from pipeline.templates.load import Template

# The issue the threshold itself adds (validate: confidence under the threshold). A sweep
# over the threshold must not count it as a reason of its own.
THRESHOLD_ISSUE = "low_confidence"


def blocking(issues: tuple[str, ...]) -> tuple[str, ...]:
    """The issues that flag a field whatever the threshold."""
    return tuple(i for i in issues if i != THRESHOLD_ISSUE)


@dataclass(frozen=True)
class FieldRow:
    file: str
    level: str
    form: str
    origin: str  # "generated" (our own forms) or "real"
    name: str
    type: str  # the template's field type; "?" for a record of the wrong form
    kind: str  # "text" or "mark", as pipeline.evaluate scores it
    expected: Any
    got: Any
    text: str  # the raw reading before normalization
    confidence: float
    issues: tuple[str, ...]
    flagged: bool  # sent to a person by the pipeline (its own threshold or an issue)
    exact: bool
    crop: str | None
    box_h: float  # box height in PDF points (0 when unknown)
    single_line: bool
    comb: int  # comb cells (0: none)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecordRow:
    file: str
    level: str
    form: str
    origin: str
    # The lowest confidence among the record's fields: it goes straight through at a
    # threshold t when gate >= t and nothing blocks it.
    gate: float
    blocked: bool  # not found or wrong form, a record issue, or a field with an issue
    accepted: bool  # the pipeline's own verdict at its configured threshold
    identified: bool
    # What blocks it whatever the threshold: record issues, "not found" (no record with
    # these pages, or unidentified), and its fields' issue codes (low_confidence left
    # out), each once.
    blockers: tuple[str, ...] = ()


def rows_for(
    path: str,
    level: str,
    form: str,
    origin: str,
    expected: Sequence[dict[str, Any]],
    records: Sequence[Record],
    scores: Sequence[FieldScore],
    templates: dict[str, Template],
) -> tuple[list[FieldRow], list[RecordRow]]:
    """The rows of one file. ``scores`` are ``evaluate.score_file``'s for the same file."""
    by_pages = {r.pages: r for r in records}
    score_of = {(s.template, s.name): s for s in scores}
    fields: list[FieldRow] = []
    recs: list[RecordRow] = []
    for exp in expected:
        rec = by_pages.get(tuple(exp["pages"]))
        right_form = rec is not None and rec.template_id == exp.get("template")
        gate = min((f.confidence for f in rec.fields), default=1.0) if rec else 0.0
        if rec is None or rec.status is RecordStatus.UNIDENTIFIED:
            blockers: tuple[str, ...] = ("not found",)
        else:
            # A record of the wrong form is not blocked for being wrong: the pipeline does
            # not know. Its values count as wrong if they go through.
            codes = [*rec.issues, *(i for f in rec.fields for i in blocking(f.issues))]
            blockers = tuple(dict.fromkeys(codes))
        recs.append(
            RecordRow(
                path,
                level,
                form,
                origin,
                gate,
                bool(blockers),
                rec is not None and rec.status is RecordStatus.ACCEPTED,
                right_form,
                blockers,
            )
        )
        if rec is None or rec.status is RecordStatus.UNIDENTIFIED:
            continue  # nothing delivered: a person sees the page
        if not right_form:
            # Another form's record: every expected value is lost, and it may well have
            # gone through unflagged. Count the values as wrong at the record's gate.
            for name, value in exp.get("fields", {}).items():
                kind = "mark" if isinstance(value, bool) else "text"
                fields.append(
                    FieldRow(
                        path, level, form, origin, name, "?", kind, value, None, "", gate,
                        blockers, rec.status is not RecordStatus.ACCEPTED, False, None, 0.0,
                        True, 0,
                    )
                )  # fmt: skip
            continue
        template = templates[exp["template"]]
        spec = {f.name: f for f in template.spec.fields}
        got = {f.name: f for f in rec.fields}
        for name in exp.get("fields", {}):
            s = score_of[(exp["template"], name)]
            f, fs = got.get(name), spec.get(name)
            fields.append(
                FieldRow(
                    path,
                    level,
                    form,
                    origin,
                    name,
                    fs.type if fs else "?",
                    s.kind,
                    s.expected,
                    s.got,
                    f.text if f else "",
                    s.confidence,
                    f.issues if f else ("missing",),
                    s.flagged,
                    s.exact,
                    f.crop if f else None,
                    fs.box[3] if fs and fs.box else 0.0,
                    fs.ocr.single_line if fs else True,
                    (fs.ocr.comb or 0) if fs else 0,
                )
            )
    return fields, recs
