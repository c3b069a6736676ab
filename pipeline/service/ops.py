"""What the operations commands read and change: ``status``, ``records``, ``retry``.

Read-only summaries are plain queries; ``retry`` changes statuses through
``pipeline.db.state`` like everything else.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from pipeline.config import Config
from pipeline.db import records as stored
from pipeline.db import state
from pipeline.db.schema import deliveries, documents, events, records
from pipeline.db.state import DeliveryStatus, DocStatus
from pipeline.errors import StateError
from pipeline.ports import OriginalStore
from pipeline.records import RecordStatus, StoredDocument, StoredRecord
from pipeline.service.intake import SUFFIX_FOR_KIND, stored_document
from pipeline.service.quarantine import release
from pipeline.service.watch import census
from pipeline.stages.ingest import file_complete

log = logging.getLogger(__name__)


def status_summary(db: Engine, cfg: Config) -> dict[str, Any]:
    now = state.now()
    hour_ago = now - dt.timedelta(hours=1)
    with db.connect() as conn:

        def counts(table: Any) -> dict[str, int]:
            rows = conn.execute(select(table.c.status, func.count()).group_by(table.c.status)).all()
            return {str(s): int(n) for s, n in sorted(rows)}

        def oldest(table: Any, column: Any, *statuses: str) -> dict[str, Any] | None:
            row = conn.execute(
                select(table).where(table.c.status.in_(statuses)).order_by(column).limit(1)
            ).first()
            if row is None:
                return None
            at = state.utc(getattr(row, column.key))
            key = row.id if "id" in row._mapping else row.key
            return {
                "id": key,
                "status": row.status,
                "since": at.isoformat() if at else None,
                "age_seconds": round((now - at).total_seconds()) if at else None,
            }

        done_hour = conn.execute(
            select(func.count(), func.coalesce(func.sum(documents.c.pages), 0)).where(
                documents.c.processed_at >= hour_ago
            )
        ).one()
        failures = conn.execute(
            select(
                documents.c.id,
                documents.c.source,
                documents.c.status,
                documents.c.reason,
                documents.c.message,
                documents.c.updated_at,
            )
            .where(documents.c.status.in_([DocStatus.FAILED, DocStatus.QUARANTINED]))
            .order_by(documents.c.updated_at.desc())
            .limit(10)
        ).all()
        failed_deliveries = conn.execute(
            select(
                deliveries.c.id,
                deliveries.c.record_key,
                deliveries.c.target,
                deliveries.c.status,
                deliveries.c.attempts,
                deliveries.c.reason,
                deliveries.c.message,
                deliveries.c.updated_at,
            )
            .where(
                (deliveries.c.status == DeliveryStatus.FAILED)
                | ((deliveries.c.status == DeliveryStatus.PENDING) & (deliveries.c.attempts > 0))
            )
            .order_by(deliveries.c.updated_at.desc())
            .limit(10)
        ).all()
        inbox = census(cfg.service.inbox)
        return {
            "inbox_files": inbox.files,
            "inbox_links": inbox.links,
            "inbox_missing": list(inbox.missing),
            "documents": counts(documents),
            "records": counts(records),
            "deliveries": counts(deliveries),
            "last_hour": {
                "documents": int(done_hour[0]),
                "pages": int(done_hour[1]),
                "pages_per_minute": round(int(done_hour[1]) / 60, 2),
            },
            "oldest": {
                "queued_document": oldest(
                    documents, documents.c.received_at, DocStatus.RECEIVED, DocStatus.PROCESSING
                ),
                "record_waiting_review": oldest(records, records.c.created_at, "needs_review"),
                "pending_delivery": oldest(deliveries, deliveries.c.created_at, "pending"),
            },
            "recent_failures": [
                {
                    "document": r.id,
                    "source": r.source,
                    "status": r.status,
                    "reason": r.reason,
                    "message": r.message,
                    "at": r.updated_at.isoformat(),
                }
                for r in failures
            ],
            "delivery_problems": [
                {
                    "delivery": r.id,
                    "record": r.record_key,
                    "target": r.target,
                    "status": r.status,
                    "attempts": r.attempts,
                    "reason": r.reason,
                    "message": r.message,
                }
                for r in failed_deliveries
            ],
        }


def list_records(
    db: Engine, statuses: tuple[str, ...] | None, limit: int
) -> list[tuple[StoredRecord, StoredDocument]]:
    """Records with their documents, newest first."""
    with db.connect() as conn:
        return stored.listed(conn, statuses, oldest_first=False, limit=limit)


def retry_document(
    db: Engine, doc_id: int, originals: OriginalStore, cfg: Config, actor: str
) -> str:
    """Put a failed or quarantined document back in the queue; returns what was done."""
    with db.connect() as conn:
        doc = conn.execute(select(documents).where(documents.c.id == doc_id)).first()
    if doc is None:
        raise StateError(f"no document {doc_id}")
    if doc.status not in (DocStatus.FAILED, DocStatus.QUARANTINED):
        raise StateError(
            f"document {doc_id} is {doc.status}; only failed or quarantined ones are retried"
        )
    values: dict[str, Any] = {"attempts": 0, "reason": None, "message": None}
    qpath = Path(doc.quarantined) if doc.quarantined else None
    if doc.stored is None:
        # Set aside at intake: the bytes are only in quarantine. Check them again and
        # keep them in the store like any intake would.
        if qpath is None or not qpath.is_file():
            raise StateError(f"document {doc_id}: its quarantined file is gone ({qpath})")
        kind, why = file_complete(qpath)
        size = qpath.stat().st_size
        if size == 0 or kind is None or why:
            problem = "empty" if size == 0 else why or "not a PDF, TIFF, PNG or JPEG file"
            raise StateError(
                f"document {doc_id}: {qpath} is still {problem}; replace it "
                "with a good copy (same name) and retry"
            )
        if size > cfg.limits.max_file_bytes:
            raise StateError(f"document {doc_id}: still over limits.max_file_bytes")
        staged = originals.stage(qpath)
        with db.connect() as conn:
            other = stored_document(conn, staged.sha256)
        if other is not None:
            originals.discard(staged)
            raise StateError(f"document {doc_id}: same content as document {other}")
        suffix = SUFFIX_FOR_KIND[kind]
        values.update(
            stored=originals.keep(staged, suffix), sha256=staged.sha256, size=staged.size, kind=kind
        )
    values["quarantined"] = None
    with db.begin() as conn:
        state.move(
            conn, "document", doc_id, DocStatus.RECEIVED, actor=actor, reason="retry", values=values
        )
    if qpath is not None:
        # The bytes are in the store now; the quarantine copy has served its purpose.
        release(qpath)
    return f"document {doc_id} ({doc.source}) queued again"


def retry_delivery(db: Engine, delivery_id: int, actor: str) -> str:
    with db.begin() as conn:
        state.move(
            conn,
            "delivery",
            delivery_id,
            DeliveryStatus.PENDING,
            actor=actor,
            reason="retry",
            values={"attempts": 0, "next_attempt_at": state.now()},
        )
    return f"delivery {delivery_id} queued again"


def history(db: Engine, entity: str, ident: str) -> list[dict[str, Any]]:
    """The events of one document, record or delivery, oldest first (times in UTC)."""
    with db.connect() as conn:
        rows = conn.execute(
            select(events)
            .where(events.c.entity == entity, events.c.entity_id == ident)
            .order_by(events.c.id)
        ).all()
    return [{**r._mapping, "at": state.utc(r.at)} for r in rows]


@dataclass(frozen=True)
class FailedDocument:
    id: int
    source: str
    status: str
    reason: str | None
    message: str | None
    at: dt.datetime


def failed_documents(db: Engine) -> list[FailedDocument]:
    """Quarantined and failed documents, most recent first."""
    with db.connect() as conn:
        rows = conn.execute(
            select(documents)
            .where(documents.c.status.in_([DocStatus.QUARANTINED, DocStatus.FAILED]))
            .order_by(documents.c.updated_at.desc())
        ).all()
    return [
        FailedDocument(r.id, r.source, r.status, r.reason, r.message, state.utc(r.updated_at))
        for r in rows
    ]


@dataclass(frozen=True)
class Figures:
    """The dashboard's figures since ``today_start``."""

    documents_today: dict[str, int]
    records_today: int
    straight_through: int
    queue_size: int
    oldest_waiting: dt.datetime | None
    failures: dict[str, int]
    deliveries_failed: int

    @property
    def straight_through_pct(self) -> float | None:
        return 100.0 * self.straight_through / self.records_today if self.records_today else None


def figures(db: Engine, today_start: dt.datetime) -> Figures:
    with db.connect() as conn:
        docs: dict[Any, Any] = dict(
            conn.execute(
                select(documents.c.status, func.count())
                .where(documents.c.received_at >= today_start)
                .group_by(documents.c.status)
            ).all()
        )
        created: dict[Any, Any] = dict(
            conn.execute(
                select(events.c.after, func.count())
                .where(
                    events.c.entity == "record",
                    events.c.action == "created",
                    events.c.at >= today_start,
                )
                .group_by(events.c.after)
            ).all()
        )
        waiting = conn.execute(
            select(func.count(), func.min(records.c.created_at)).where(
                records.c.status == RecordStatus.NEEDS_REVIEW
            )
        ).one()
        failures: dict[Any, Any] = dict(
            conn.execute(
                select(documents.c.reason, func.count())
                .where(documents.c.status.in_([DocStatus.FAILED, DocStatus.QUARANTINED]))
                .group_by(documents.c.reason)
            ).all()
        )
        dfail = conn.execute(
            select(func.count()).where(deliveries.c.status == DeliveryStatus.FAILED)
        ).scalar_one()
    identified = created.get("accepted", 0) + created.get("needs_review", 0)
    return Figures(
        documents_today={str(k): int(v) for k, v in sorted(docs.items())},
        records_today=int(identified),
        straight_through=int(created.get("accepted", 0)),
        queue_size=int(waiting[0]),
        oldest_waiting=state.utc(waiting[1]),
        failures={str(k): int(v) for k, v in sorted(failures.items(), key=lambda kv: -kv[1])},
        deliveries_failed=int(dfail),
    )


def ping(db: Engine) -> None:
    """Raise if the state database does not answer."""
    with db.connect() as conn:
        conn.execute(select(documents.c.id).limit(1))


def progress_counts(db: Engine) -> dict[str, int]:
    """What the service's progress line reports besides its own tally."""
    with db.connect() as conn:

        def n(table: Any, status: str) -> int:
            q = select(func.count()).select_from(table).where(table.c.status == status)
            return int(conn.execute(q).scalar_one())

        return {
            "queued": n(documents, DocStatus.RECEIVED),
            "needs_review": n(records, RecordStatus.NEEDS_REVIEW),
            "delivered": n(records, RecordStatus.DELIVERED),
            "pending_deliveries": n(deliveries, DeliveryStatus.PENDING),
        }
