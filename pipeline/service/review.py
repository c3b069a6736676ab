"""What the review UI does to the state database, one operation per action.

Each operation is one transaction: load the stored record, let the pure review stage
(``pipeline.stages.review``) work out the change, save it under the version the operator
saw (a record changed since is refused with ``StateError``, never overwritten), audit it,
and when nothing is left for a person, accept the record and write its outbox rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from pipeline.db import records as stored
from pipeline.db import state
from pipeline.db.schema import records
from pipeline.db.state import DocStatus
from pipeline.errors import StateError
from pipeline.records import RecordStatus, StoredDocument, StoredField, StoredRecord
from pipeline.service.ops import history
from pipeline.service.outbox import enqueue
from pipeline.stages.review import Edit, apply_edit
from pipeline.templates.schema import TemplateSpec


@dataclass(frozen=True)
class EditResult:
    version: int
    # Issues the value still has; set when nothing was saved (an override is needed).
    refused: tuple[str, ...] = ()
    accepted: bool = False
    field: StoredField | None = None


def edit_field(
    db: Engine,
    key: str,
    version: int,
    edit: Edit,
    spec_for: Callable[[str | None, int | None], TemplateSpec | None],
    actor: str,
    targets: tuple[str, ...],
) -> EditResult:
    """``spec_for(form id, version)`` gives the template of the record as loaded."""
    with db.begin() as conn:
        rec = stored.load(conn, key)
        if rec is None:
            raise StateError(f"no record {key}")
        if rec.version != version:
            raise StateError(
                f"record {key} was changed by someone else (now version {rec.version})"
            )
        spec = spec_for(rec.template_id, rec.template_version)
        applied = apply_edit(rec, edit, spec, actor, state.now())
        if applied.refused:
            return EditResult(rec.version, refused=applied.refused)
        saved = stored.save(conn, applied.record, applied.events)
        if not applied.done:
            return EditResult(saved.version, field=applied.changed)
        state.move(
            conn,
            "record",
            key,
            RecordStatus.ACCEPTED,
            actor=actor,
            version=saved.version,
            values={"accepted_at": state.now()},
        )
        enqueue(conn, key, targets)
        return EditResult(saved.version + 1, accepted=True, field=applied.changed)


def record(db: Engine, key: str) -> StoredRecord | None:
    with db.connect() as conn:
        return stored.load(conn, key)


def open_record(
    db: Engine, key: str
) -> tuple[StoredRecord, StoredDocument, list[dict[str, Any]]] | None:
    """A record, its document and its history (oldest event first), for the record page."""
    with db.connect() as conn:
        got = stored.load_with_document(conn, key)
    if got is None:
        return None
    return got[0], got[1], history(db, "record", key)


def claim(db: Engine, key: str, who: str) -> None:
    with db.begin() as conn:
        stored.claim(conn, key, who)


def assign_template(db: Engine, doc_id: int, template: str, actor: str) -> None:
    """An admin says which form an unidentified document is: its unidentified records go
    and the document is read again with that template tried first."""
    with db.begin() as conn:
        keys = [
            rec.key
            for rec, _ in stored.listed(conn, [RecordStatus.UNIDENTIFIED], document_id=doc_id)
        ]
        if not keys:
            raise StateError(f"document {doc_id} has no unidentified page")
        for k in keys:
            state.log_event(
                conn,
                "record",
                k,
                "removed",
                before="unidentified",
                actor=actor,
                reason=f"template {template} assigned",
            )
        conn.execute(delete(records).where(records.c.key.in_(keys)))
        state.move(
            conn,
            "document",
            doc_id,
            DocStatus.RECEIVED,
            actor=actor,
            reason="template_assigned",
            values={"template_hint": template, "attempts": 0},
        )


def waiting(
    db: Engine, form: str | None = None, limit: int = 200
) -> list[tuple[StoredRecord, StoredDocument]]:
    """Records that need a person, oldest received first."""
    with db.connect() as conn:
        return stored.listed(conn, [RecordStatus.NEEDS_REVIEW], form=form, limit=limit)


def waiting_forms(db: Engine) -> list[str]:
    with db.connect() as conn:
        return [
            str(f)
            for f in conn.execute(
                select(records.c.template_id)
                .where(records.c.status == RecordStatus.NEEDS_REVIEW)
                .distinct()
                .order_by(records.c.template_id)
            ).scalars()
            if f
        ]


def unidentified(db: Engine) -> list[tuple[StoredRecord, StoredDocument]]:
    with db.connect() as conn:
        return stored.listed(conn, [RecordStatus.UNIDENTIFIED])


def document(db: Engine, doc_id: int) -> StoredDocument | None:
    with db.connect() as conn:
        return stored.load_document(conn, doc_id)
