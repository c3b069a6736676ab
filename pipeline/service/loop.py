"""The drop-folder service (``blankett watch``): inbox -> intake -> workers -> records,
in one loop thread that owns intake and outcome writes; deliveries run beside it.

The loop wakes on file events, finished work or its poll timer. Each turn it (1) takes
the inbox files that are ready (``service.inflow``: watch, staging, intake), (2) hands received
documents to the dispatcher and (3) writes finished outcomes (``service.results``). The
outbox's own thread (``service.outbox.Courier``) delivers, so a slow case system never
stalls intake.

Crash safety: at start-up documents left ``processing`` go back to ``received``. A worker
crash sends its documents back too, marked as suspects; suspects then run one at a time,
so only the document that kills its worker is charged, and after
``service.max_attempts`` starts it is failed (``worker_crashed``) instead of crashing
workers for ever. SIGTERM or Ctrl-C: stop taking and dispatching, let the documents in
hand finish and be written, then exit 0; a second signal exits at once (state stays
consistent; the documents in hand are run again on the next start).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from pipeline.config import Config
from pipeline.db import state
from pipeline.db.schema import documents
from pipeline.db.state import DocStatus
from pipeline.errors import BlankettError, Reason
from pipeline.fsutil import owner_only
from pipeline.ports import CaseTarget, Crashed, Dispatcher, Job, OriginalStore, Outcome
from pipeline.service.inflow import Inflow
from pipeline.service.ops import progress_counts
from pipeline.service.outbox import Courier
from pipeline.service.results import record_outcome
from pipeline.service.watch import EventWatcher, check_layout

log = logging.getLogger(__name__)


@dataclass
class Tally:
    """What this run of the service did, for progress lines and the exit summary."""

    started: float = field(default_factory=time.monotonic)
    taken: int = 0
    processed: int = 0
    pages: int = 0
    crashed: int = 0
    delivered: int = 0


class Service:
    def __init__(
        self,
        cfg: Config,
        db: Engine,
        originals: OriginalStore,
        dispatcher: Dispatcher,
        targets: Mapping[str, CaseTarget],
        *,
        wake: threading.Event | None = None,
        until_idle: bool = False,
        events: bool | None = None,
    ):
        check_layout(cfg)
        self.cfg = cfg
        self.db = db
        self.originals = originals
        self.dispatcher = dispatcher
        self.targets = targets
        self.wake = wake or threading.Event()
        self.until_idle = until_idle
        self.inflow = Inflow(cfg, db, originals)
        self.watcher = (
            EventWatcher(cfg.service.inbox, self.inflow.inbox, self.wake)
            if (cfg.service.events if events is None else events)
            else None
        )
        self.tally = Tally()
        self.courier = Courier(db, targets, originals, cfg.delivery, on_delivered=self.wake.set)
        self.stopping = False
        self._signals = 0
        self._old_handlers: dict[int, Any] = {}
        self.suspects: set[int] = set()
        self._running: set[int] = set()
        self._unwritten: list[Outcome | Crashed] = []
        self._next_poll = 0.0
        self._next_progress = 0.0
        self._last_progress: tuple[float, tuple[int, ...], int] = (time.monotonic(), (), 0)
        self._polled = False

    # -- lifecycle ---------------------------------------------------------------------

    def run(self) -> Tally:
        for folder in (self.cfg.data_dir, self.cfg.service.quarantine):
            owner_only(folder)
        self.inflow.start()
        self._resume()
        self._install_signals()
        if self.watcher is not None:
            self.watcher.start()
        self.courier.start()
        log.info(
            "watching %s (poll every %.1f s%s); %d workers; targets: %s. `blankett status` "
            "shows where everything is; Ctrl-C stops after the documents in hand",
            ", ".join(str(p) for p in self.cfg.service.inbox),
            self.cfg.service.poll_seconds,
            ", file events" if self.watcher else ", polling only",
            self.dispatcher.workers,
            ", ".join(self.targets) or "none",
        )
        backoff = 0.0
        try:
            while not self.stopping:
                self.wake.clear()
                try:
                    self._turn()
                    if self.until_idle and self._idle():
                        break
                    backoff = 0.0
                    self.wake.wait(self._sleep())
                except SQLAlchemyError as exc:
                    # The database went away (a restart, the network): nothing is lost;
                    # the files stay in the inbox and finished outcomes are kept.
                    backoff = min(max(1.0, backoff * 2), 60.0)
                    log.error(
                        "state database unavailable (%s); trying again in %.0f s",
                        str(exc).splitlines()[0][:200],
                        backoff,
                    )
                    self.wake.wait(backoff)
        finally:
            self._stop()
        return self.tally

    def _turn(self) -> None:
        now = time.monotonic()
        if self.watcher is not None:
            self.watcher.apply()
        if now >= self._next_poll:
            self._take(now)
            self._next_poll = now + self.cfg.service.poll_seconds
        self._collect()
        self._dispatch()
        self.tally.delivered = self.courier.delivered
        self._progress(now)

    def _stop(self) -> None:
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)
        if self.watcher is not None:
            self.watcher.stop()
        if self.dispatcher.in_flight():
            log.info("stopping: finishing %d documents in hand", self.dispatcher.in_flight())
        while self.dispatcher.in_flight() or self._unwritten:
            self.wake.wait(0.5)
            self.wake.clear()
            try:
                self._collect()
            except SQLAlchemyError as exc:
                log.error(
                    "state database unavailable while stopping (%s); the documents "
                    "in hand run again on the next start",
                    str(exc).splitlines()[0],
                )
                self._unwritten.clear()
                break
        self.dispatcher.close()
        self.inflow.stop()
        self.courier.stop()
        self.tally.delivered = self.courier.delivered
        for target in self.targets.values():
            target.close()
        t = self.tally
        done = (t.taken, t.processed, t.pages, t.delivered)
        log.info("stopped: %d files taken, %d documents processed (%d pages), %d deliveries", *done)

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, _frame: FrameType | None) -> None:
            self._signals += 1
            if self._signals > 1:
                log.warning("second %s: exiting now", signal.Signals(signum).name)
                os._exit(130)
            log.info("%s: stopping after the documents in hand", signal.Signals(signum).name)
            self.stopping = True
            self.wake.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            self._old_handlers[sig] = signal.signal(sig, handler)

    # -- the four steps ----------------------------------------------------------------

    def _resume(self) -> None:
        swept = self.originals.sweep_scratch()
        if swept:
            log.info("removed %d partial copies left by an interrupted intake", swept)
        with self.db.begin() as conn:
            left = (
                conn.execute(
                    select(documents.c.id).where(documents.c.status == DocStatus.PROCESSING)
                )
                .scalars()
                .all()
            )
            for doc_id in left:
                state.move(conn, "document", doc_id, DocStatus.RECEIVED, reason="resumed")
        if left:
            log.warning("resuming %d documents interrupted by a stop or crash", len(left))
            self.suspects.update(int(i) for i in left)

    def _take(self, now: float) -> None:
        self._polled = True
        if not self.stopping:
            self.tally.taken += self.inflow.turn(now)

    def _dispatch(self) -> None:
        if self.stopping:
            return
        room = self.dispatcher.capacity()
        if self.suspects:
            # After a crash: one document at a time until every suspect has run alone.
            room = 0 if self.dispatcher.in_flight() else 1
        if room <= 0:
            return
        query = (
            select(
                documents.c.id,
                documents.c.stored,
                documents.c.source,
                documents.c.attempts,
                documents.c.version,
                documents.c.template_hint,
            )
            .where(documents.c.status == DocStatus.RECEIVED)
            .order_by(documents.c.id)
        )
        if self.suspects:
            query = query.where(documents.c.id.in_(sorted(self.suspects)))
        with self.db.connect() as conn:
            rows = conn.execute(query.limit(room + len(self._running))).all()
        for row in rows:
            if room <= 0:
                break
            if row.id in self._running:
                continue
            with self.db.begin() as conn:
                if row.attempts >= self.cfg.service.max_attempts:
                    state.move(
                        conn,
                        "document",
                        row.id,
                        DocStatus.FAILED,
                        reason=Reason.WORKER_CRASHED,
                        values={
                            "reason": Reason.WORKER_CRASHED,
                            "message": f"the worker died on it {row.attempts} "
                            "times (killed, out of memory or a crash)",
                        },
                    )
                    self.suspects.discard(row.id)
                    log.error("document %d failed: its worker died %d times", row.id, row.attempts)
                    continue
                state.move(
                    conn,
                    "document",
                    row.id,
                    DocStatus.PROCESSING,
                    version=row.version,
                    values={"attempts": row.attempts + 1},
                )
            try:
                self.dispatcher.submit(
                    Job(row.id, self.originals.path(row.stored), row.source, row.template_hint)
                )
            except Exception:
                with self.db.begin() as conn:
                    state.move(
                        conn, "document", row.id, DocStatus.RECEIVED, reason="dispatch_failed"
                    )
                raise
            self._running.add(row.id)
            room -= 1

    def _collect(self) -> None:
        """Write finished outcomes. An outcome that cannot be written because the database
        is unreachable is kept and written on a later turn, never dropped."""
        self._unwritten.extend(self.dispatcher.collect())
        while self._unwritten:
            res = self._unwritten[0]
            self._write(res)  # a database error propagates with res still queued
            self._unwritten.pop(0)
            self._running.discard(res.document_id)
            self.courier.poke()  # the outcome may have accepted records

    def _write(self, res: Outcome | Crashed) -> None:
        if isinstance(res, Crashed):
            self.tally.crashed += 1
            self.suspects.add(res.document_id)
            with self.db.begin() as conn:
                state.move(
                    conn,
                    "document",
                    res.document_id,
                    DocStatus.RECEIVED,
                    reason=Reason.WORKER_CRASHED,
                )
            return
        try:
            record_outcome(self.db, res, self.originals, self.cfg)
        except (BlankettError, OSError) as exc:
            # e.g. the quarantine folder is full: run the document again later
            log.error(
                "document %d: cannot write its outcome (%s); it will run again",
                res.document_id,
                exc,
            )
            with self.db.begin() as conn:
                state.move(
                    conn, "document", res.document_id, DocStatus.RECEIVED, reason="commit_failed"
                )
            return
        finally:
            self.suspects.discard(res.document_id)
        self.tally.processed += 1
        self.tally.pages += sum(len(r.pages) for r in res.records)

    # -- waiting and reporting ---------------------------------------------------------

    def _sleep(self) -> float:
        return min(max(0.0, self._next_poll - time.monotonic()), 5.0)

    def _idle(self) -> bool:
        if (
            not self._polled
            or self.inflow.waiting()
            or self.dispatcher.in_flight()
            or self._unwritten
        ):
            return False
        with self.db.connect() as conn:
            queued = conn.execute(
                select(func.count()).where(documents.c.status == DocStatus.RECEIVED)
            ).scalar_one()
        if queued:
            return False
        # Deliveries waiting out a back-off count as work: they end delivered or failed.
        return self.courier.idle()

    def _progress(self, now: float) -> None:
        if now < self._next_progress:
            return
        window = now - self._last_progress[0]
        self._next_progress = now + self.cfg.service.progress_seconds
        t = self.tally
        snapshot = (t.taken, t.processed, t.delivered, self.inflow.waiting())
        if snapshot == self._last_progress[1] and not self.dispatcher.in_flight():
            return  # nothing happened since the last line: stay quiet
        pages = t.pages - self._last_progress[2]
        self._last_progress = (now, snapshot, t.pages)
        counts = progress_counts(self.db)
        log.info(
            "progress: inbox %d, queued %d, running %d, done %d (%.2f pages/s), "
            "needs review %d, delivered %d, deliveries pending %d",
            self.inflow.waiting(),
            counts["queued"],
            self.dispatcher.in_flight(),
            t.processed,
            pages / window if window > 0 else 0.0,
            counts["needs_review"],
            counts["delivered"],
            counts["pending_deliveries"],
        )
