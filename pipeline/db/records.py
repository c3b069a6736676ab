"""Load and save stored records: the one place that knows how a record sits in its row.

Every reader and writer of the ``records`` table goes through here and gets or gives a
``StoredRecord``; fields are kept as one JSON object per record (name -> value, text,
confidence, issues, crop, review marks). Status changes still go through
``pipeline.db.state``; this module writes content, with the record's version as guard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from pipeline.db import state
from pipeline.db.schema import documents, records
from pipeline.errors import StateError
from pipeline.records import (
    AuditEvent,
    RecordStatus,
    StoredDocument,
    StoredField,
    StoredRecord,
)


def insert(conn: Connection, rec: StoredRecord) -> None:
    """A new record row, created in its status (with an events row)."""
    values: dict[str, Any] = {
        "key": rec.key,
        "document_id": rec.document_id,
        "template_id": rec.template_id,
        "template_version": rec.template_version,
        "pages": list(rec.pages),
        "fields": _fields_json(rec.fields),
        "issues": list(rec.issues),
        "previews": {str(page): path for page, path in rec.previews.items()},
    }
    if rec.status is RecordStatus.ACCEPTED:
        values["accepted_at"] = state.now()
    state.create(conn, "record", rec.status, values)


def exists(conn: Connection, key: str) -> bool:
    return conn.execute(select(records.c.key).where(records.c.key == key)).first() is not None


def load(conn: Connection, key: str) -> StoredRecord | None:
    row = conn.execute(select(records).where(records.c.key == key)).one_or_none()
    return None if row is None else from_row(row)


def load_with_document(conn: Connection, key: str) -> tuple[StoredRecord, StoredDocument] | None:
    row = conn.execute(
        select(records, *_DOC_COLUMNS)
        .join(documents, documents.c.id == records.c.document_id)
        .where(records.c.key == key)
    ).one_or_none()
    return None if row is None else (from_row(row), _document(row))


def listed(
    conn: Connection,
    statuses: Sequence[str] | None = None,
    *,
    form: str | None = None,
    document_id: int | None = None,
    oldest_first: bool = True,
    limit: int | None = None,
) -> list[tuple[StoredRecord, StoredDocument]]:
    """Records with the documents they came from; oldest received first, or newest created."""
    q = select(records, *_DOC_COLUMNS).join(documents, documents.c.id == records.c.document_id)
    if statuses:
        q = q.where(records.c.status.in_(list(statuses)))
    if form:
        q = q.where(records.c.template_id == form)
    if document_id is not None:
        q = q.where(records.c.document_id == document_id)
    if oldest_first:
        q = q.order_by(documents.c.received_at, records.c.key)
    else:
        q = q.order_by(records.c.created_at.desc(), records.c.key)
    if limit is not None:
        q = q.limit(limit)
    return [(from_row(r), _document(r)) for r in conn.execute(q)]


def save(conn: Connection, rec: StoredRecord, events: Iterable[AuditEvent] = ()) -> StoredRecord:
    """Write ``rec``'s fields and issues if the row is still at ``rec.version``; returns it
    at its new version. The audit events go in the same transaction."""
    changed = conn.execute(
        update(records)
        .where(records.c.key == rec.key, records.c.version == rec.version)
        .values(
            fields=_fields_json(rec.fields),
            issues=list(rec.issues),
            version=rec.version + 1,
            updated_at=state.now(),
        )
    ).rowcount
    if changed != 1:
        raise StateError(f"record {rec.key} was changed by someone else while saving")
    for e in events:
        state.log_event(
            conn,
            "record",
            rec.key,
            e.action,
            before=e.before,
            after=e.after,
            actor=e.actor,
            field=e.field,
            reason=e.reason,
        )
    return replace(rec, version=rec.version + 1)


def claim(conn: Connection, key: str, who: str) -> None:
    """Note who has the record open (a notice for others, not a lock)."""
    conn.execute(
        update(records).where(records.c.key == key).values(claimed_by=who, claimed_at=state.now())
    )


def load_document(conn: Connection, doc_id: int) -> StoredDocument | None:
    row = conn.execute(select(*_DOC_COLUMNS).where(documents.c.id == doc_id)).one_or_none()
    return None if row is None else _document(row)


# -- row <-> record ---------------------------------------------------------------------

_DOC_COLUMNS = (
    documents.c.source,
    documents.c.sha256,
    documents.c.size,
    documents.c.kind,
    documents.c.stored,
    documents.c.received_at,
    documents.c.id.label("doc_id"),
)


def from_row(row: Any) -> StoredRecord:
    """A record from a ``records`` row (any select that has all its columns)."""
    m = row._mapping
    return StoredRecord(
        key=m["key"],
        document_id=m["document_id"],
        status=RecordStatus(m["status"]),
        template_id=m["template_id"],
        template_version=m["template_version"],
        pages=tuple(m["pages"]),
        fields=tuple(_field(name, f) for name, f in (m["fields"] or {}).items()),
        issues=tuple(m["issues"] or ()),
        previews={int(page): path for page, path in (m["previews"] or {}).items()},
        version=m["version"],
        claimed_by=m["claimed_by"],
        claimed_at=state.utc(m["claimed_at"]),
        created_at=state.utc(m["created_at"]),
        accepted_at=state.utc(m["accepted_at"]),
        delivered_at=state.utc(m["delivered_at"]),
    )


def _document(row: Any) -> StoredDocument:
    m = row._mapping
    return StoredDocument(
        id=m["doc_id"],
        source=m["source"],
        sha256=m["sha256"],
        size=m["size"],
        kind=m["kind"],
        stored=m["stored"],
        received_at=state.utc(m["received_at"]),
    )


def _field(name: str, f: Mapping[str, Any]) -> StoredField:
    at = f.get("reviewed_at")
    return StoredField(
        name=name,
        value=f["value"],
        text=f.get("text", ""),
        confidence=float(f.get("confidence", 0.0)),
        needs_review=bool(f.get("needs_review")),
        issues=tuple(f.get("issues", ())),
        crop=f.get("crop"),
        reviewed_by=f.get("reviewed_by"),
        reviewed_at=dt.datetime.fromisoformat(at) if at else None,
        overridden=tuple(f.get("overridden", ())),
        override_reason=f.get("override_reason"),
    )


def _fields_json(fields: Iterable[StoredField]) -> dict[str, dict[str, Any]]:
    return {f.name: {**f.to_json(), "crop": f.crop} for f in fields}
