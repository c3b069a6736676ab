"""Write what the workers made of documents into the state database.

One transaction per document: its records, the outbox rows of the accepted ones and the
document's own status change commit together, so a crash leaves either all of it or
none (and then the document is simply run again). A file that turned out bad is copied
to quarantine first (idempotent), then marked.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from pipeline import failpoints
from pipeline.config import Config
from pipeline.db import state
from pipeline.db.schema import documents, records
from pipeline.db.state import DocStatus, RecordStatus
from pipeline.ports import OriginalStore, Outcome
from pipeline.records import Record, Status
from pipeline.service.quarantine import quarantine
from pipeline.stages.deliver import enqueue

log = logging.getLogger(__name__)

_RECORD_STATUS = {
    Status.ACCEPTED: RecordStatus.ACCEPTED,
    Status.NEEDS_REVIEW: RecordStatus.NEEDS_REVIEW,
    Status.UNIDENTIFIED: RecordStatus.UNIDENTIFIED,
}


def record_outcome(db: Engine, out: Outcome, originals: OriginalStore, cfg: Config) -> None:
    failpoints.hit("process.before_commit")
    if out.error_code is None:
        _processed(db, out, cfg)
    elif out.bad_input:
        _quarantined(db, out, originals, cfg)
    else:
        with db.begin() as conn:
            state.move(
                conn,
                "document",
                out.document_id,
                DocStatus.FAILED,
                reason=out.error_code,
                values={
                    "reason": out.error_code,
                    "message": out.error_message,
                    "processed_at": state.now(),
                },
            )
        log.error(
            "document %d failed: %s [%s]; `blankett retry %d` once fixed",
            out.document_id,
            out.error_message,
            out.error_code,
            out.document_id,
        )


def _processed(db: Engine, out: Outcome, cfg: Config) -> None:
    targets = tuple(t.name for t in cfg.delivery.targets)
    counts: dict[str, int] = {}
    with db.begin() as conn:
        for rec in out.records:
            status = _RECORD_STATUS.get(rec.status)
            if status is None:
                continue
            if _exists(conn, rec.key):
                continue  # written by an earlier run of this document
            row = _record_row(rec, out.document_id)
            if status is RecordStatus.ACCEPTED:
                row["accepted_at"] = state.now()
            state.create(conn, "record", status, row)
            if status is RecordStatus.ACCEPTED:
                enqueue(conn, rec.key, targets)
            counts[status] = counts.get(status, 0) + 1
        state.move(
            conn,
            "document",
            out.document_id,
            DocStatus.PROCESSED,
            values={
                "pages": sum(len(r.pages) for r in out.records),
                "processed_at": state.now(),
                "reason": None,
                "message": None,
            },
        )
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no records"
    log.info("document %d processed in %.1f s: %s", out.document_id, out.seconds, summary)


def _quarantined(db: Engine, out: Outcome, originals: OriginalStore, cfg: Config) -> None:
    with db.connect() as conn:
        doc = conn.execute(select(documents).where(documents.c.id == out.document_id)).one()
    dst = quarantine(
        originals.path(doc.stored),
        cfg.service.quarantine,
        doc.source,
        doc.sha256,
        {
            "reason": out.error_code,
            "message": out.error_message,
            "document": doc.id,
            "source": doc.source,
            "inbox": doc.inbox,
            "quarantined_at": state.now().isoformat(),
        },
    )
    with db.begin() as conn:
        state.move(
            conn,
            "document",
            doc.id,
            DocStatus.QUARANTINED,
            reason=out.error_code,
            values={
                "reason": out.error_code,
                "message": out.error_message,
                "quarantined": str(dst),
                "processed_at": state.now(),
            },
        )
    log.warning(
        "document %d quarantined (%s): %s [%s]",
        doc.id,
        doc.source,
        out.error_message,
        out.error_code,
    )


def _exists(conn: Connection, key: str) -> bool:
    return conn.execute(select(records.c.key).where(records.c.key == key)).first() is not None


def _record_row(rec: Record, document_id: int) -> dict[str, Any]:
    return {
        "key": rec.key,
        "document_id": document_id,
        "template_id": rec.template_id,
        "template_version": rec.template_version,
        "pages": list(rec.pages),
        "fields": {f.name: {**f.to_json(), "crop": f.crop} for f in rec.fields},
        "issues": list(rec.issues),
        "previews": {str(page): path for page, path in rec.previews},
    }
