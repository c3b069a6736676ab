"""deliver: what a case system receives, and what to do when sending fails (pure).

A delivery is identified by a deterministic idempotency key (record key + target), so
a send repeated after a crash is a no-op at the target. The payload is the record as
delivered (schema version, fields without crop paths, where it came from, and the file
that goes with it: the record's own pages only, never another record's). A failed
attempt is retried with exponential back-off unless the error says it needs a person or
the attempts run out. The outbox that drives this is ``pipeline.service.outbox``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from pipeline.config import DeliveryConfig
from pipeline.errors import BlankettError, Reason
from pipeline.records import StoredDocument, StoredRecord

SCHEMA_VERSION = 1


def short_key(record_key: str) -> str:
    """A record key for people: the hash shortened, the page kept (``1a2b3c4d5e6f:1``)."""
    sha, _, page = record_key.partition(":")
    return f"{sha[:12]}:{page}"


def idempotency_key(record_key: str, target: str) -> str:
    return hashlib.sha256(f"blankett:{record_key}:{target}".encode()).hexdigest()


@dataclass(frozen=True)
class OwnFile:
    """The file delivered with a record: its own pages of the scan."""

    name: str
    sha256: str
    size: int


def payload(key: str, rec: StoredRecord, doc: StoredDocument, own: OwnFile) -> dict[str, Any]:
    """The delivery JSON: schema version, the record, its file, the document it came from."""
    return {
        "schema_version": SCHEMA_VERSION,
        "idempotency_key": key,
        "record": {
            "key": rec.key,
            "template": {"id": rec.template_id, "version": rec.template_version},
            "pages": list(rec.pages),
            "fields": {f.name: f.to_json() for f in rec.fields},
            "issues": list(rec.issues),
            "accepted_at": _iso(rec.accepted_at),
        },
        "file": {"name": own.name, "sha256": own.sha256, "size": own.size},
        "document": {
            "id": doc.id,
            "source": doc.source,
            "sha256": doc.sha256,
            "size": doc.size,
            "kind": doc.kind,
            "received_at": _iso(doc.received_at),
        },
    }


@dataclass(frozen=True)
class Failure:
    """A failed attempt judged: its reason, and whether and when to try again."""

    code: str
    message: str
    permanent: bool
    retry_in: float  # seconds (for a permanent failure: when a retry would have been)


def judge(exc: Exception, attempts: int, cfg: DeliveryConfig) -> Failure:
    """``attempts`` counts this one."""
    if isinstance(exc, BlankettError):
        code, message, retryable = exc.code, exc.message, exc.retryable
    elif isinstance(exc, OSError):  # the target's disk or network
        code, message, retryable = Reason.TARGET_UNAVAILABLE, str(exc), True
    else:  # a bug in a target: retry (it may be transient) but within the limit
        code, message, retryable = Reason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", True
    delay = min(cfg.retry_seconds * 2 ** (attempts - 1), cfg.max_retry_seconds)
    return Failure(code, message, not retryable or attempts >= cfg.max_attempts, delay)


def _iso(t: dt.datetime | None) -> str | None:
    # Stored records and documents carry aware UTC times (db.records makes them so).
    return None if t is None else t.isoformat()
