"""review: an operator confirms or corrects one field, or rejects a whole record (pure:
a record in, a record out).

Every change is re-validated at once (type, the field's rules, its groups). A value that
still breaks a rule is only taken with an explicit override and its reason; otherwise the
edit is refused with the issues it has and nothing changes. The result is the new record
plus the audit events that describe the change; ``pipeline.service.review`` saves both
under the record's version and accepts the record when ``done``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pipeline.errors import StateError
from pipeline.fieldtypes import FIELD_TYPES
from pipeline.issues import IssueCode
from pipeline.records import AuditEvent, RecordStatus, StoredField, StoredRecord
from pipeline.rules import check_type
from pipeline.stages.validate import group_issues, rule_issues
from pipeline.templates.schema import FieldSpec, TemplateSpec

# The pseudo-field that stands for the record-level issues (missing pages, ...).
RECORD_ISSUES = "_record"
_TRUE = {"x", "ja", "yes", "1", "true", "j", "y", "✓", "☒"}
_FALSE = {"", "nej", "no", "0", "false", "n", "-"}
_GROUP_CODES = frozenset({IssueCode.GROUP_NONE_MARKED, IssueCode.GROUP_SEVERAL_MARKED})
REJECTABLE = frozenset({RecordStatus.NEEDS_REVIEW, RecordStatus.UNIDENTIFIED})
MAX_REASON = 500


@dataclass(frozen=True)
class Edit:
    """What the operator did to one field: ``text`` None confirms the value as read."""

    name: str
    text: str | None
    override: str | None = None


@dataclass(frozen=True)
class Applied:
    """An edit applied: the record as it is now (same version: saving bumps it) and the
    events to audit; or, with ``refused``, the issues the value still has (nothing done)."""

    record: StoredRecord
    events: tuple[AuditEvent, ...] = ()
    refused: tuple[str, ...] = ()
    changed: StoredField | None = None

    @property
    def done(self) -> bool:
        """Nothing is left for a person: the record can be accepted."""
        r = self.record
        return not self.refused and not r.issues and not any(f.needs_review for f in r.fields)


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
    kind = FIELD_TYPES[f.type]
    if kind.is_bool:
        low = text.strip().lower()
        value = low in _TRUE
        if low not in _TRUE | _FALSE:
            issues.append(IssueCode.NOT_A_MARK)
    elif kind.reader == "choice":
        names = [o.value for o in f.options]
        value = text.strip() or None
        if value is not None and value not in names:
            issues.append(IssueCode.VALUE_NOT_ALLOWED)
    else:
        checked = check_type(f.type, text)
        value, issues = checked.value, list(checked.issues)
    issues += rule_issues(f, value)
    groups = group_issues(spec, {**values, f.name: value})
    issues += [c for c in groups.get(f.name, []) if c not in issues]
    return value, issues


def apply_edit(
    rec: StoredRecord,
    edit: Edit,
    spec: TemplateSpec | None,
    actor: str,
    now: dt.datetime,
) -> Applied:
    if rec.status is not RecordStatus.NEEDS_REVIEW:
        raise StateError(f"record {rec.key} is {rec.status}; there is nothing to review")
    if edit.name == RECORD_ISSUES:
        ack = AuditEvent(
            "acknowledged",
            actor,
            field=RECORD_ISSUES,
            before=json.dumps(list(rec.issues)),
            after="[]",
        )
        return Applied(replace(rec, issues=()), (ack,))
    if spec is None:
        raise StateError(f"record {rec.key}: its template is not loaded")
    f = next((x for x in spec.fields if x.name == edit.name), None)
    old = rec.find(edit.name)
    if f is None or old is None:
        raise StateError(f"record {rec.key} has no field {edit.name!r}")
    text = as_text(old.value) if edit.text is None else edit.text
    value, problems = check_value(spec, f, text, rec.values())
    reason = (edit.override or "").strip()
    if problems and not reason:
        return Applied(rec, refused=tuple(problems))
    new = replace(
        old,
        value=value,
        text=text,
        confidence=1.0,
        needs_review=False,
        issues=(),
        reviewed_by=actor,
        reviewed_at=now,
        overridden=tuple(problems),
        override_reason=reason if problems else None,
    )
    after = _refresh_groups(spec, rec.with_field(new))
    changed = value != old.value or text != old.text
    event = AuditEvent(
        "corrected" if changed else "confirmed",
        actor,
        field=edit.name,
        before=json.dumps(old.value, ensure_ascii=False),
        after=json.dumps(value, ensure_ascii=False),
        reason=new.override_reason,
    )
    return Applied(after, (event,), changed=new)


def reject(rec: StoredRecord, reason: str, actor: str) -> Applied:
    """Set a record aside for good (a junk page, the wrong form, a duplicate sent on paper
    twice): it leaves the queue and is never delivered. The reason is required; the
    status change and the reason are the audit event."""
    if rec.status not in REJECTABLE:
        raise StateError(
            f"record {rec.key} is {rec.status}; only a record in review or an unidentified "
            "one can be rejected"
        )
    why = " ".join(reason.split())
    if not why:
        raise StateError(f"record {rec.key}: say why it is rejected")
    if len(why) > MAX_REASON:
        raise StateError(f"record {rec.key}: the reason is over {MAX_REASON} characters")
    event = AuditEvent(
        "status", actor, before=rec.status.value, after=RecordStatus.REJECTED.value, reason=why
    )
    return Applied(replace(rec, status=RecordStatus.REJECTED), (event,))


def _refresh_groups(spec: TemplateSpec, rec: StoredRecord) -> StoredRecord:
    """Group issues follow the values: a fixed group clears its code on the other fields
    (they keep needing review until a person has seen them)."""
    now = group_issues(spec, rec.values())
    fields = []
    for f in rec.fields:
        if f.reviewed_by is None:
            kept = [c for c in f.issues if c not in _GROUP_CODES]
            kept += [c for c in now.get(f.name, []) if c not in kept]
            f = replace(f, issues=tuple(kept))
        fields.append(f)
    return replace(rec, fields=tuple(fields))
