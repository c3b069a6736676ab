"""The one module that owns statuses and the changes allowed between them.

Every status change in the state database goes through ``move``: a conditional UPDATE
(the row must be in a status the change is allowed from, and at the version the caller
saw when it gives one) plus an ``events`` row in the same transaction. A change that is
not allowed, or that lost a race, raises ``StateError``; nothing is half-changed.

    documents:  received -> processing -> processed | failed | quarantined
                processing -> received            (resumed after a crash or restart)
                failed | quarantined -> received  (blankett retry)
                processed -> received              (a template assigned to an unidentified one)
                new rows: received | duplicate | quarantined
    records:    needs_review -> accepted -> delivered;  unidentified
                needs_review | unidentified -> rejected  (by an operator, with a reason)
                (the lifecycle: ``pipeline.records.RecordStatus``)
    deliveries: pending -> delivered | failed;  pending -> pending (retry later);
                failed -> pending (blankett retry --delivery)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, overload

from sqlalchemy import Table, insert, select, update
from sqlalchemy.engine import Connection

from pipeline.db.schema import deliveries, documents, events, records
from pipeline.errors import StateError
from pipeline.records import RecordStatus


class DocStatus(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    PROCESSED = "processed"
    FAILED = "failed"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


# target status -> the statuses it may be reached from
_DOCUMENT: Mapping[str, frozenset[str]] = {
    DocStatus.PROCESSING: frozenset({DocStatus.RECEIVED}),
    DocStatus.PROCESSED: frozenset({DocStatus.PROCESSING}),
    DocStatus.FAILED: frozenset({DocStatus.PROCESSING, DocStatus.RECEIVED}),
    DocStatus.QUARANTINED: frozenset({DocStatus.PROCESSING}),
    # PROCESSED -> RECEIVED: an admin assigned a template to an unidentified document.
    DocStatus.RECEIVED: frozenset(
        {DocStatus.PROCESSING, DocStatus.FAILED, DocStatus.QUARANTINED, DocStatus.PROCESSED}
    ),
}
_RECORD: Mapping[str, frozenset[str]] = {
    RecordStatus.ACCEPTED: frozenset({RecordStatus.NEEDS_REVIEW}),
    RecordStatus.DELIVERED: frozenset({RecordStatus.ACCEPTED}),
    # Final: a rejected record is never delivered.
    RecordStatus.REJECTED: frozenset({RecordStatus.NEEDS_REVIEW, RecordStatus.UNIDENTIFIED}),
}
_DELIVERY: Mapping[str, frozenset[str]] = {
    DeliveryStatus.DELIVERED: frozenset({DeliveryStatus.PENDING}),
    DeliveryStatus.FAILED: frozenset({DeliveryStatus.PENDING}),
    DeliveryStatus.PENDING: frozenset({DeliveryStatus.PENDING, DeliveryStatus.FAILED}),
}
# Statuses a new row may start in.
NEW: Mapping[str, frozenset[str]] = {
    "document": frozenset({DocStatus.RECEIVED, DocStatus.DUPLICATE, DocStatus.QUARANTINED}),
    "record": frozenset(
        {RecordStatus.NEEDS_REVIEW, RecordStatus.ACCEPTED, RecordStatus.UNIDENTIFIED}
    ),
    "delivery": frozenset({DeliveryStatus.PENDING}),
}

_TABLES: Mapping[str, tuple[Table, str, Mapping[str, frozenset[str]]]] = {
    "document": (documents, "id", _DOCUMENT),
    "record": (records, "key", _RECORD),
    "delivery": (deliveries, "id", _DELIVERY),
}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@overload
def utc(t: dt.datetime) -> dt.datetime: ...
@overload
def utc(t: None) -> None: ...
def utc(t: dt.datetime | None) -> dt.datetime | None:
    """A timestamp read back from the database, as aware UTC (SQLite returns naive ones)."""
    if t is None or t.tzinfo is not None:
        return t
    return t.replace(tzinfo=dt.UTC)


def allowed(entity: str, before: str, after: str) -> bool:
    return before in _TABLES[entity][2].get(after, frozenset())


def move(
    conn: Connection,
    entity: str,
    ident: int | str,
    to: str,
    *,
    actor: str = "service",
    version: int | None = None,
    reason: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> str:
    """Change one row's status to ``to`` (and set ``values``); returns the old status.

    With ``version`` the row must still be at that version (optimistic locking).
    """
    table, key, graph = _TABLES[entity]
    sources = graph.get(to, frozenset())
    row = conn.execute(
        select(table.c.status, table.c.version).where(table.c[key] == ident)
    ).one_or_none()
    if row is None:
        raise StateError(f"no {entity} {ident}")
    if row.status not in sources:
        raise StateError(f"{entity} {ident} is {row.status}; it cannot become {to}")
    if version is not None and row.version != version:
        raise StateError(f"{entity} {ident} was changed by someone else (version {row.version})")
    changed = conn.execute(
        update(table)
        .where(
            table.c[key] == ident,
            table.c.status == row.status,
            table.c.version == row.version,
        )
        .values(status=to, version=row.version + 1, updated_at=now(), **(values or {}))
    ).rowcount
    if changed != 1:
        raise StateError(f"{entity} {ident} was changed by someone else while changing it")
    log_event(
        conn, entity, ident, "status", before=row.status, after=to, actor=actor, reason=reason
    )
    return str(row.status)


def create(
    conn: Connection,
    entity: str,
    status: str,
    values: Mapping[str, Any],
    *,
    actor: str = "service",
    reason: str | None = None,
) -> int | str:
    """Insert a new row starting in ``status``; returns its id (or key)."""
    if status not in NEW[entity]:
        raise StateError(f"a new {entity} cannot start as {status}")
    table, key, _ = _TABLES[entity]
    t = now()
    stamps = {"updated_at": t, "version": 1}
    if entity == "document":
        stamps["received_at"] = t
    else:
        stamps["created_at"] = t
    result = conn.execute(insert(table).values(status=status, **stamps, **values))
    ident: int | str
    if key in values:
        ident = values[key]
    else:
        pk = result.inserted_primary_key
        assert pk is not None
        ident = int(pk[0])
    log_event(conn, entity, ident, "created", after=status, actor=actor, reason=reason)
    return ident


def log_event(
    conn: Connection,
    entity: str,
    ident: int | str,
    action: str,
    *,
    before: str | None = None,
    after: str | None = None,
    actor: str = "service",
    field: str | None = None,
    reason: str | None = None,
) -> None:
    conn.execute(
        insert(events).values(
            at=now(),
            actor=actor,
            entity=entity,
            entity_id=str(ident),
            action=action,
            before=before,
            after=after,
            field=field,
            reason=reason,
        )
    )
