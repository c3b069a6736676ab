"""review: an operator confirms or corrects one field, and a record is accepted.

Every change is re-validated at once (type, the field's rules, its groups) and written
with optimistic locking: the change names the record version the operator saw, and a
record changed since is refused (``StateError``) instead of silently overwritten. A
value that still breaks a rule is only taken with an explicit override and its reason.
Each change is an ``events`` row (who, when, field, before, after, reason). When no field
and no record-level issue is left, the record is accepted and its outbox rows are written
in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from pipeline.db import state
from pipeline.db.schema import records
from pipeline.db.state import RecordStatus
from pipeline.errors import StateError
from pipeline.rules import check_type
from pipeline.stages.deliver import enqueue
from pipeline.stages.validate import group_issues, rule_issues
from pipeline.templates.schema import FieldSpec, TemplateSpec

# The pseudo-field that stands for the record-level issues (missing pages, ...).
RECORD_ISSUES = "_record"
_TRUE = {"x", "ja", "yes", "1", "true", "j", "y", "✓", "☒"}
_FALSE = {"", "nej", "no", "0", "false", "n", "-"}


@dataclass(frozen=True)
class Edit:
    """What the operator did to one field: ``text`` None confirms the value as read."""

    name: str
    text: str | None
    override: str | None = None


@dataclass(frozen=True)
class EditResult:
    version: int
    # Issues that the value still has; set when nothing was saved (override needed).
    refused: tuple[str, ...] = ()
    accepted: bool = False
    field: Mapping[str, Any] | None = None


def as_text(value: object) -> str:
    """A stored value as the operator types it (marks as ``x`` or empty)."""
    if value is True:
        return "x"
    if value is None or value is False:
        return ""
    return str(value)


def check_value(
    spec: TemplateSpec, f: FieldSpec, text: str, values: Mapping[str, Any]
) -> tuple[str | bool | None, list[str]]:
    """The value ``text`` stands for in field ``f`` and the issues it has, groups included."""
    issues: list[str] = []
    value: str | bool | None
    if f.type in ("checkbox", "signature"):
        low = text.strip().lower()
        value = low in _TRUE
        if low not in _TRUE | _FALSE:
            issues.append("not_a_mark")
    elif f.type == "choice":
        names = [o.value for o in f.options]
        value = text.strip() or None
        if value is not None and value not in names:
            issues.append("value_not_allowed")
    else:
        checked = check_type(f.type, text)
        value, issues = checked.value, list(checked.issues)
    issues += rule_issues(f, value)
    groups = group_issues(spec, {**values, f.name: value})
    issues += [c for c in groups.get(f.name, []) if c not in issues]
    return value, issues


def apply_edit(
    conn: Connection,
    key: str,
    version: int,
    edit: Edit,
    spec: TemplateSpec | None,
    actor: str,
    targets: tuple[str, ...],
) -> EditResult:
    row = conn.execute(select(records).where(records.c.key == key)).one_or_none()
    if row is None:
        raise StateError(f"no record {key}")
    if row.status != RecordStatus.NEEDS_REVIEW:
        raise StateError(f"record {key} is {row.status}; there is nothing to review")
    if row.version != version:
        raise StateError(f"record {key} was changed by someone else (now version {row.version})")
    fields: dict[str, dict[str, Any]] = {k: dict(v) for k, v in row.fields.items()}
    issues = list(row.issues)
    if edit.name == RECORD_ISSUES:
        state.log_event(
            conn,
            "record",
            key,
            "acknowledged",
            before=json.dumps(issues),
            after="[]",
            actor=actor,
            field=RECORD_ISSUES,
        )
        issues = []
        changed: Mapping[str, Any] | None = None
    else:
        if spec is None:
            raise StateError(f"record {key}: its template is not loaded")
        f = next((x for x in spec.fields if x.name == edit.name), None)
        if f is None or edit.name not in fields:
            raise StateError(f"record {key} has no field {edit.name!r}")
        old = fields[edit.name]
        text = as_text(old["value"]) if edit.text is None else edit.text
        values = {k: v["value"] for k, v in fields.items()}
        value, problems = check_value(spec, f, text, values)
        if problems and not (edit.override or "").strip():
            return EditResult(version=row.version, refused=tuple(problems))
        new = {
            **old,
            "value": value,
            "text": text,
            "confidence": 1.0,
            "needs_review": False,
            "issues": [],
            "reviewed_by": actor,
            "reviewed_at": state.now().isoformat(),
        }
        if problems:
            new["overridden"] = problems
            new["override_reason"] = (edit.override or "").strip()
        fields[edit.name] = new
        _refresh_groups(spec, fields)
        action = "corrected" if value != old["value"] or text != old.get("text") else "confirmed"
        state.log_event(
            conn,
            "record",
            key,
            action,
            field=edit.name,
            actor=actor,
            before=json.dumps(old["value"], ensure_ascii=False),
            after=json.dumps(value, ensure_ascii=False),
            reason=new.get("override_reason") or None,
        )
        changed = new
    done = not issues and not any(v.get("needs_review") for v in fields.values())
    n = conn.execute(
        update(records)
        .where(records.c.key == key, records.c.version == row.version)
        .values(fields=fields, issues=issues, version=row.version + 1, updated_at=state.now())
    ).rowcount
    if n != 1:
        raise StateError(f"record {key} was changed by someone else while saving")
    if done:
        state.move(
            conn,
            "record",
            key,
            RecordStatus.ACCEPTED,
            actor=actor,
            version=row.version + 1,
            values={"accepted_at": state.now()},
        )
        enqueue(conn, key, targets)
        return EditResult(version=row.version + 2, accepted=True, field=changed)
    return EditResult(version=row.version + 1, field=changed)


def _refresh_groups(spec: TemplateSpec, fields: dict[str, dict[str, Any]]) -> None:
    """Group issues follow the values: a fixed group clears its code on the other fields
    (they keep needing review until a person has seen them)."""
    group_codes = {"group_none_marked", "group_several_marked"}
    now = group_issues(spec, {k: v["value"] for k, v in fields.items()})
    for name, f in fields.items():
        if f.get("reviewed_by"):
            continue
        kept = [c for c in f.get("issues", []) if c not in group_codes]
        kept += [c for c in now.get(name, []) if c not in kept]
        f["issues"] = kept
