"""Test kit for the drop-folder service: configs, an in-process dispatcher, file droppers
and the SHA-256 ledger every fault-injection test checks its outcome against."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine

from pipeline.adapters.folder_target import DONE, MANIFEST
from pipeline.compose import build_originals, build_targets
from pipeline.config import Config
from pipeline.context import Context
from pipeline.db.schema import deliveries, documents, records
from pipeline.ports import Crashed, Job, Outcome
from pipeline.service.loop import Service
from pipeline.service.watch import ignored
from pipeline.service.worker import run_job
from tests.conftest import make_config


def service_config(
    root: Path, db_url: str | None = None, cases_url: str | None = None, **service: Any
) -> Config:
    """A config whose every folder lies under ``root``; fast polls for tests."""
    base = make_config(root / "data")
    svc = {
        "inbox": (root / "inbox",),
        "quarantine": root / "quarantine",
        "poll_seconds": 0.05,
        "stable_polls": 2,
        "incomplete_after_seconds": 1.0,
        "settle_seconds": 0.0,
        "workers": 1,
        "progress_seconds": 600.0,
        **service,
    }
    targets = [
        {
            "name": "case_db",
            "kind": "sql",
            "url": cases_url or f"sqlite:///{root / 'cases.sqlite3'}",
        },
        {"name": "export", "kind": "folder", "path": str(root / "export")},
    ]
    return Config.model_validate(
        {
            **base.model_dump(mode="json"),
            "database_url": db_url or f"sqlite:///{root / 'data' / 'state.sqlite3'}",
            "service": {
                k: (v if not isinstance(v, tuple) else list(v))
                for k, v in {**base.service.model_dump(mode="json"), **svc}.items()
            },
            "delivery": {
                "targets": targets,
                "retry_seconds": 0.05,
                "max_retry_seconds": 0.2,
                "max_attempts": 4,
            },
        }
    )


def write_config(cfg: Config, path: Path) -> Path:
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), allow_unicode=True))
    return path


class InlineDispatcher:
    """Runs each job at once in this process with the session's recognition context.
    The real process pool is exercised by the subprocess tests (test_faults.py)."""

    workers = 1

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.done: list[Outcome | Crashed] = []

    def capacity(self) -> int:
        return 1

    def submit(self, job: Job) -> None:
        self.done.append(run_job(job, self.ctx))

    def collect(self) -> list[Outcome | Crashed]:
        out, self.done = self.done, []
        return out

    def in_flight(self) -> int:
        return len(self.done)

    def close(self) -> None:
        pass


def inline_service(cfg: Config, db: Engine, ctx: Context, **kw: Any) -> Service:
    """The service that runs until idle, on the inline dispatcher."""
    return Service(
        cfg,
        db,
        build_originals(cfg),
        InlineDispatcher(ctx),
        build_targets(cfg),
        until_idle=True,
        **kw,
    )


def run_service(cfg: Config, db: Engine, ctx: Context, **kw: Any) -> Service:
    """The service until idle, in this thread."""
    svc = inline_service(cfg, db, ctx, **kw)
    svc.run()
    return svc


def start_service(
    cfg: Config, db: Engine, ctx: Context, **kw: Any
) -> tuple[Service, threading.Thread]:
    """The service until idle in a background thread (for writers racing it)."""
    svc = inline_service(cfg, db, ctx, **kw)
    th = threading.Thread(target=svc.run, daemon=True)
    th.start()
    return svc, th


def wait_for(cond: Any, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``cond`` until true; fail after ``timeout`` (a bound, not a sleep)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Audit:
    dropped: int
    lost: list[str]
    duplicated_documents: list[str]
    duplicated_records: int
    duplicated_deliveries: int
    missing_deliveries: int
    undelivered: int
    bad_store: list[str]
    outcome: dict[str, str]
    left_in_inbox: list[str]

    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicated_documents
            or self.duplicated_records
            or self.duplicated_deliveries
            or self.missing_deliveries
            or self.undelivered
            or self.bad_store
            or self.left_in_inbox
        )

    def record(self, kills: int) -> None:
        """Add this scenario to the run's fault-injection summary; assert it is clean."""
        from tests.fault_report import REPORTS as FAULT_REPORTS

        FAULT_REPORTS.append(
            (
                self.dropped,
                kills,
                len(self.lost),
                self.duplicated_records,
                self.duplicated_deliveries,
            )
        )
        assert self.ok(), self

    def report(self, kills: int) -> str:
        return (
            f"{self.dropped} files dropped, {kills} kills, {len(self.lost)} lost, "
            f"{self.duplicated_records} duplicated records, "
            f"{self.duplicated_deliveries} duplicated deliveries"
        )


@dataclass
class Ledger:
    """What was dropped, by inbox path and SHA-256, and a check of what became of it."""

    inbox: Path
    drops: list[tuple[str, str]] = field(default_factory=list)

    def drop(self, rel: str, data: bytes, *, how: str = "rename") -> Path:
        """Drop a file as scanners do: written under a temporary name, then renamed."""
        dst = self.inbox / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        self.drops.append((rel, hashlib.sha256(data).hexdigest()))
        if how == "direct":
            dst.write_bytes(data)
        else:
            tmp = dst.with_name(dst.name + ".part")
            tmp.write_bytes(data)
            os.replace(tmp, dst)
        return dst

    def expect(self, rel: str, data: bytes) -> None:
        """A file written by the test itself (a slow writer): its final content."""
        self.drops.append((rel, hashlib.sha256(data).hexdigest()))

    def audit(self, cfg: Config, db: Engine) -> Audit:
        with db.connect() as conn:
            docs = conn.execute(select(documents)).all()
            recs = conn.execute(
                select(
                    records.c.key,
                    records.c.status,
                    documents.c.sha256,
                    records.c.pages,
                    documents.c.status.label("doc_status"),
                ).join(documents, documents.c.id == records.c.document_id)
            ).all()
            dels = conn.execute(select(deliveries)).all()
        by_drop: dict[tuple[str, str], list[Any]] = {}
        for d in docs:
            by_drop.setdefault((d.source, d.sha256), []).append(d)
        lost, dup_docs, bad = [], [], []
        outcome = {}
        for (rel, sha), n in Counter(self.drops).items():
            rows = by_drop.get((rel, sha), [])
            if len(rows) < n:
                lost.append(rel)
            if len(rows) > n:
                dup_docs.append(rel)
            if not rows:
                continue
            d = rows[0]
            outcome[rel] = d.status
            if d.stored and _sha(cfg.originals_dir / d.stored) != d.sha256:
                bad.append(f"{rel}: stored copy differs")
            if d.status == "quarantined":
                q = Path(d.quarantined)
                if _sha(q) != d.sha256:
                    bad.append(f"{rel}: quarantined copy differs")
                reason = json.loads(q.with_name(q.name + ".reason.json").read_text())
                if reason["reason"] != d.reason:
                    bad.append(f"{rel}: reason file says {reason['reason']}")
        firsts = [(r.sha256, tuple(r.pages)[:1]) for r in recs]
        dup_records = len(firsts) - len(set(firsts))
        dup_records += sum(1 for r in recs if r.doc_status == "duplicate")
        dup_del, missing = _deliveries_check(cfg, dels, recs)
        left = [
            p.relative_to(self.inbox).as_posix()
            for p in self.inbox.rglob("*")
            if p.is_file() and not ignored(p.name)
        ]
        return Audit(
            len(self.drops),
            lost,
            dup_docs,
            dup_records,
            dup_del,
            missing,
            sum(1 for r in recs if r.status == "accepted"),
            bad,
            outcome,
            left,
        )


def _sha(p: Path) -> str | None:
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None


def _deliveries_check(cfg: Config, dels: list[Any], recs: list[Any]) -> tuple[int, int]:
    """(duplicated deliveries, missing ones) over both targets."""
    sql = next(t for t in cfg.delivery.targets if t.kind == "sql")
    folder = next(t for t in cfg.delivery.targets if t.kind == "folder")
    eng = create_engine(sql.url or "")
    try:
        with eng.connect() as conn:
            has = conn.execute(
                text(
                    "select count(*) from information_schema.tables where table_name = "
                    "'blankett_cases'"
                    if eng.dialect.name == "postgresql"
                    else "select count(*) from sqlite_master where name = 'blankett_cases'"
                )
            ).scalar_one()
            rows = (
                conn.execute(
                    text("select record_key, count(*) from blankett_cases group by record_key")
                ).all()
                if has
                else []
            )
    finally:
        eng.dispose()
    case_counts = {k: n for k, n in rows}
    dup = sum(n - 1 for n in case_counts.values())
    assert folder.path is not None
    exported: dict[str, int] = {}
    for done in folder.path.rglob(DONE):
        meta = json.loads((done.parent / "record.json").read_text())
        exported[meta["record"]["key"]] = exported.get(meta["record"]["key"], 0) + 1
        for line in (done.parent / MANIFEST).read_text().splitlines():
            digest, _, name = line.partition("  ")
            assert _sha(done.parent / name) == digest, f"{done.parent}/{name} differs"
    dup += sum(n - 1 for n in exported.values())
    leftovers = [p for p in folder.path.rglob("*.tmp")] if folder.path.exists() else []
    assert not leftovers, f"temporary export folders left: {leftovers}"
    delivered = {r.key for r in recs if r.status == "delivered"}
    missing = sum(1 for k in delivered if k not in case_counts or k not in exported)
    # every delivered outbox row belongs to a delivered record
    missing += sum(
        1
        for d in dels
        if d.status == "delivered"
        and d.record_key not in delivered
        and all(x.status == "delivered" for x in dels if x.record_key == d.record_key)
    )
    return dup, missing
