"""Write what the workers made of documents into the state database.

One transaction per document: its records, the outbox rows of the accepted ones and the
document's own status change commit together, so a crash leaves either all of it or
none (and then the document is simply run again). A file that turned out bad is copied
to quarantine first (idempotent), then marked.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipeline import failpoints
from pipeline.config import Config
from pipeline.db import records as stored
from pipeline.db import state
from pipeline.db.schema import documents
from pipeline.db.state import DocStatus
from pipeline.ports import OriginalStore, Outcome
from pipeline.records import RecordStatus, StoredRecord
from pipeline.service.outbox import enqueue
from pipeline.service.quarantine import quarantine

log = logging.getLogger(__name__)

# What a worker can make of a page that becomes a stored record (``failed`` is a file's).
_STORED = frozenset({RecordStatus.ACCEPTED, RecordStatus.NEEDS_REVIEW, RecordStatus.UNIDENTIFIED})


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
            if rec.status not in _STORED:
                continue
            if stored.exists(conn, rec.key):
                continue  # written by an earlier run of this document
            stored.insert(conn, StoredRecord.from_record(rec, out.document_id))
            if rec.status is RecordStatus.ACCEPTED:
                enqueue(conn, rec.key, targets)
            counts[rec.status] = counts.get(rec.status, 0) + 1
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
