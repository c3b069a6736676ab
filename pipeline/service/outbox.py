"""The outbox: deliveries written with the accepting transaction, drained into the case
targets exactly once in effect, in a thread of their own.

An outbox row (``deliveries``) is written in the transaction that accepts a record. The
``Courier`` thread sends each due row with its idempotency key (a target that already has
the key does nothing), then marks it delivered; a crash between sending and marking means
one more send, which the key makes a no-op. Retryable failures back off exponentially;
permanent ones, or too many retries, leave the row ``failed`` with its reason until
``blankett retry --delivery`` re-sends it. Deliveries never run in the loop thread that
takes files in, so a slow case system cannot stall intake.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from pipeline import failpoints
from pipeline.config import DeliveryConfig
from pipeline.db import records as stored
from pipeline.db import state
from pipeline.db.schema import deliveries, records
from pipeline.db.state import DeliveryStatus
from pipeline.errors import DeliveryError, Reason, StateError, StoreError
from pipeline.fsutil import sha256_of
from pipeline.pagecut import cut_name, own_pages
from pipeline.ports import CaseTarget, OriginalStore, Parcel
from pipeline.records import RecordStatus, StoredDocument, StoredRecord
from pipeline.stages.deliver import OwnFile, idempotency_key, judge, payload, short_key

log = logging.getLogger(__name__)


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


def next_due(db: Engine) -> dt.datetime | None:
    """When the next pending delivery is due (None: nothing pending)."""
    with db.connect() as conn:
        at = conn.execute(
            select(func.min(deliveries.c.next_attempt_at)).where(
                deliveries.c.status == DeliveryStatus.PENDING
            )
        ).scalar()
    return state.utc(at)


def deliver_due(
    db: Engine,
    targets: Mapping[str, CaseTarget],
    originals: OriginalStore,
    cfg: DeliveryConfig,
    *,
    limit: int = 50,
    stop: threading.Event | None = None,
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
        if stop is not None and stop.is_set():
            break
        _deliver_one(db, int(delivery_id), targets, originals, cfg, run)
    return run


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
        got = stored.load_with_document(conn, d.record_key)
        if got is None:
            raise StateError(f"delivery {delivery_id}: record {d.record_key} is gone")
        rec, doc = got
        alone = (
            conn.execute(select(func.count()).where(records.c.document_id == doc.id)).scalar_one()
            == 1
        )
    target = targets.get(d.target)
    try:
        if target is None:
            raise DeliveryError(
                f"target {d.target!r} is not in the configuration", code=Reason.TARGET_UNKNOWN
            )
        if doc.stored is None:
            raise StoreError(f"document {doc.id} has no stored original")
        with tempfile.TemporaryDirectory(prefix="blankett-parcel-") as work:
            whole = originals.path(doc.stored)
            parcel = _parcel(d.idempotency_key, rec, doc, whole, None if alone else Path(work))
            failpoints.hit("deliver.before_send")
            target.send(parcel)
            failpoints.hit("deliver.after_send")
    except Exception as exc:
        _failed_attempt(db, d.id, d.target, d.attempts + 1, exc, cfg, run)
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


def _parcel(
    key: str, rec: StoredRecord, doc: StoredDocument, whole: Path, work: Path | None
) -> Parcel:
    """The parcel for one target: the payload and the record's own pages. The only record
    of its scan gets the scan itself (``work`` None); otherwise its pages are cut into
    ``work``, a private folder removed after the send."""
    name = doc.source.rsplit("/", 1)[-1]
    own = whole if work is None else own_pages(whole, doc.kind, rec.pages, work / "own")
    if own != whole:  # a part of the scan: its name says which pages
        name = cut_name(name, rec.pages)
    sha, size = sha256_of(own), own.stat().st_size
    return Parcel(
        idempotency_key=key,
        record=rec,
        document=doc,
        payload=payload(key, rec, doc, OwnFile(name, sha, size)),
        original=own,
        original_name=name,
    )


def _failed_attempt(
    db: Engine,
    delivery_id: int,
    target: str,
    attempts: int,
    exc: Exception,
    cfg: DeliveryConfig,
    run: DeliveryRun,
) -> None:
    f = judge(exc, attempts, cfg)
    with db.begin() as conn:
        state.move(
            conn,
            "delivery",
            delivery_id,
            DeliveryStatus.FAILED if f.permanent else DeliveryStatus.PENDING,
            reason=f.code,
            values={
                "attempts": attempts,
                "reason": f.code,
                "message": f.message,
                "next_attempt_at": state.now() + dt.timedelta(seconds=f.retry_in),
            },
        )
    if f.permanent:
        run.failed += 1
        log.error(
            "delivery %d to %s failed: %s [%s]; fix it, then `blankett retry --delivery %d`",
            delivery_id,
            target,
            f.message,
            f.code,
            delivery_id,
        )
    else:
        run.retrying += 1
        log.warning(
            "delivery %d to %s: %s [%s]; retry %d in %.0f s",
            delivery_id,
            target,
            f.message,
            f.code,
            attempts + 1,
            f.retry_in,
        )


class Courier:
    """Drains the outbox in a thread of its own; ``poke`` when something may be due."""

    def __init__(
        self,
        db: Engine,
        targets: Mapping[str, CaseTarget],
        originals: OriginalStore,
        cfg: DeliveryConfig,
        *,
        on_delivered: Callable[[], None] | None = None,
    ):
        self.db = db
        self.targets = targets
        self.originals = originals
        self.cfg = cfg
        self.delivered = 0
        self._on_delivered = on_delivered
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._busy = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.targets and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="courier", daemon=True)
            self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def idle(self) -> bool:
        """Nothing being sent and nothing pending (a back-off still counts as work)."""
        return not self.targets or (not self._busy.is_set() and next_due(self.db) is None)

    def stop(self) -> None:
        """Let the delivery in hand finish, then end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            self._wake.clear()
            self._busy.set()
            try:
                run = deliver_due(self.db, self.targets, self.originals, self.cfg, stop=self._stop)
                wait = self._until_due()
                backoff = 0.0
            except SQLAlchemyError as exc:
                # The state database went away; the rows stay pending and are sent later.
                backoff = min(max(1.0, backoff * 2), 60.0)
                log.error(
                    "deliveries paused: state database unavailable (%s); again in %.0f s",
                    str(exc).splitlines()[0][:200],
                    backoff,
                )
                run, wait = DeliveryRun(), backoff
            except Exception:
                # A bug must not end deliveries for good: say it loudly, try again later.
                log.exception("deliveries: unexpected error; trying again in 30 s")
                run, wait = DeliveryRun(), 30.0
            finally:
                self._busy.clear()
            if run.delivered:
                self.delivered += run.delivered
                if self._on_delivered is not None:
                    self._on_delivered()
            self._wake.wait(wait)

    def _until_due(self) -> float:
        due = next_due(self.db)
        if due is None:
            return 5.0
        return min(5.0, max(0.0, (due - state.now()).total_seconds()))
