"""deliver: drain the outbox into the case targets, each delivery exactly once in effect.

An outbox row (``deliveries``) is written in the transaction that accepts a record. Here
each due row is sent with its deterministic idempotency key (a target that already has
the key does nothing), then marked delivered; a crash between sending and marking means
one more send, which the key makes a no-op. Retryable failures back off exponentially;
permanent ones, or too many retries, leave the row ``failed`` with its reason until
``blankett retry --delivery`` re-sends it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from pipeline import failpoints
from pipeline.config import DeliveryConfig
from pipeline.db import state
from pipeline.db.schema import deliveries, documents, records
from pipeline.db.state import DeliveryStatus, RecordStatus
from pipeline.errors import BlankettError, DeliveryError, StateError
from pipeline.ports import CaseTarget, OriginalStore, Parcel

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


def short_key(record_key: str) -> str:
    """A record key for people: the hash shortened, the page kept (``1a2b3c4d5e6f:1``)."""
    sha, _, page = record_key.partition(":")
    return f"{sha[:12]}:{page}"


def idempotency_key(record_key: str, target: str) -> str:
    return hashlib.sha256(f"blankett:{record_key}:{target}".encode()).hexdigest()


def enqueue(conn: Connection, record_key: str, targets: tuple[str, ...]) -> None:
    """Write the outbox rows for an accepted record (inside the accepting transaction)."""
    for name in targets:
        state.create(
            conn,
            "delivery",
            DeliveryStatus.PENDING,
            {
                "record_key": record_key,
                "target": name,
                "idempotency_key": idempotency_key(record_key, name),
                "attempts": 0,
                "next_attempt_at": state.now(),
            },
        )


@dataclass
class DeliveryRun:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def deliver_due(
    db: Engine,
    targets: Mapping[str, CaseTarget],
    originals: OriginalStore,
    cfg: DeliveryConfig,
    *,
    limit: int = 50,
) -> DeliveryRun:
    run = DeliveryRun()
    with db.connect() as conn:
        due = (
            conn.execute(
                select(deliveries.c.id)
                .where(
                    deliveries.c.status == DeliveryStatus.PENDING,
                    deliveries.c.next_attempt_at <= state.now(),
                )
                .order_by(deliveries.c.id)
                .limit(limit)
            )
            .scalars()
            .all()
        )
    for delivery_id in due:
        _deliver_one(db, int(delivery_id), targets, originals, cfg, run)
    return run


def next_due(db: Engine) -> dt.datetime | None:
    """When the next pending delivery is due (None: nothing pending)."""
    with db.connect() as conn:
        at = conn.execute(
            select(func.min(deliveries.c.next_attempt_at)).where(
                deliveries.c.status == DeliveryStatus.PENDING
            )
        ).scalar()
    return state.utc(at)


def _deliver_one(
    db: Engine,
    delivery_id: int,
    targets: Mapping[str, CaseTarget],
    originals: OriginalStore,
    cfg: DeliveryConfig,
    run: DeliveryRun,
) -> None:
    with db.connect() as conn:
        d = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).one()
        rec = conn.execute(select(records).where(records.c.key == d.record_key)).one()
        doc = conn.execute(select(documents).where(documents.c.id == rec.document_id)).one()
    target = targets.get(d.target)
    try:
        if target is None:
            raise DeliveryError(
                f"target {d.target!r} is not in the configuration", code="target_unknown"
            )
        parcel = Parcel(
            idempotency_key=d.idempotency_key,
            record=delivery_json(d.idempotency_key, dict(rec._mapping), dict(doc._mapping)),
            original=originals.path(doc.stored),
            original_name=doc.source.rsplit("/", 1)[-1],
        )
        failpoints.hit("deliver.before_send")
        target.send(parcel)
        failpoints.hit("deliver.after_send")
    except Exception as exc:
        _failed_attempt(db, d, exc, cfg, run)
        return
    try:
        with db.begin() as conn:
            state.move(
                conn,
                "delivery",
                d.id,
                DeliveryStatus.DELIVERED,
                values={
                    "delivered_at": state.now(),
                    "attempts": d.attempts + 1,
                    "reason": None,
                    "message": None,
                },
            )
            left = conn.execute(
                select(func.count()).where(
                    deliveries.c.record_key == d.record_key,
                    deliveries.c.status != DeliveryStatus.DELIVERED,
                )
            ).scalar_one()
            if left == 0:
                state.move(
                    conn,
                    "record",
                    d.record_key,
                    RecordStatus.DELIVERED,
                    values={"delivered_at": state.now()},
                )
    except StateError as exc:
        log.warning("delivery %d: %s", d.id, exc)
        return
    failpoints.hit("deliver.after_mark")
    run.delivered += 1
    log.info(
        "delivery %d: record %s of document %d delivered to %s",
        d.id,
        short_key(d.record_key),
        rec.document_id,
        d.target,
    )


def _failed_attempt(
    db: Engine, d: Any, exc: Exception, cfg: DeliveryConfig, run: DeliveryRun
) -> None:
    attempts = d.attempts + 1
    if isinstance(exc, BlankettError):
        code, message, retryable = exc.code, exc.message, exc.retryable
    elif isinstance(exc, OSError):  # the target's disk or network
        code, message, retryable = "target_unavailable", str(exc), True
    else:  # a bug in a target: retry (it may be transient) but within the limit
        code, message, retryable = "internal_error", f"{type(exc).__name__}: {exc}", True
    permanent = not retryable or attempts >= cfg.max_attempts
    delay = min(cfg.retry_seconds * 2 ** (attempts - 1), cfg.max_retry_seconds)
    with db.begin() as conn:
        state.move(
            conn,
            "delivery",
            d.id,
            DeliveryStatus.FAILED if permanent else DeliveryStatus.PENDING,
            reason=code,
            values={
                "attempts": attempts,
                "reason": code,
                "message": message,
                "next_attempt_at": state.now() + dt.timedelta(seconds=delay),
            },
        )
    if permanent:
        run.failed += 1
        log.error(
            "delivery %d to %s failed: %s [%s]; fix it, then `blankett retry --delivery %d`",
            d.id,
            d.target,
            message,
            code,
            d.id,
        )
    else:
        run.retrying += 1
        log.warning(
            "delivery %d to %s: %s [%s]; retry %d in %.0f s",
            d.id,
            d.target,
            message,
            code,
            attempts + 1,
            delay,
        )


def delivery_json(key: str, rec: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    """What a case system receives: schema version, the record, where it came from."""
    fields = {
        name: {k: v for k, v in f.items() if k != "crop"} for name, f in rec["fields"].items()
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "idempotency_key": key,
        "record": {
            "key": rec["key"],
            "template": {"id": rec["template_id"], "version": rec["template_version"]},
            "pages": list(rec["pages"]),
            "fields": fields,
            "issues": list(rec["issues"]),
            "accepted_at": _iso(rec["accepted_at"]),
        },
        "document": {
            "id": doc["id"],
            "source": doc["source"],
            "sha256": doc["sha256"],
            "size": doc["size"],
            "kind": doc["kind"],
            "received_at": _iso(doc["received_at"]),
        },
    }


def _iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    return state.utc(t).isoformat()
