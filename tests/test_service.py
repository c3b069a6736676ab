"""The drop-folder service in this process (inline dispatcher), on SQLite and PostgreSQL:
intake, duplicates, quarantine, writers racing the watcher, delivery and retries. Every
scenario ends with the SHA-256 ledger: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from pipeline.compose import build_originals, build_targets, open_context
from pipeline.context import Context
from pipeline.db.connect import open_state_db
from pipeline.db.schema import deliveries, documents, events, records
from pipeline.errors import ConfigError, StateError
from pipeline.service.loop import Service
from pipeline.service.ops import retry_delivery, retry_document, status_summary
from pipeline.service.outbox import deliver_due
from tests.conftest import SAMPLES
from tests.inputs import encrypted_pdf, png_header_only
from tests.service_kit import (
    InlineDispatcher,
    Ledger,
    run_service,
    service_config,
    start_service,
    wait_for,
)

# every test here runs the service with the real recognition context
pytestmark = pytest.mark.tesseract

PNG = (SAMPLES / "parkeringstillstand" / "scan-03-upside-down.png").read_bytes()
PDF = (SAMPLES / "parkeringstillstand" / "scan-01.pdf").read_bytes()
TWO = (SAMPLES / "mixed" / "two-forms-and-blank.pdf").read_bytes()


@pytest.fixture
def env(tmp_path: Path, db_urls: tuple[str, str]):
    cfg = service_config(tmp_path, db_urls[0], db_urls[1])
    db = open_state_db(cfg.database_url)
    yield cfg, db, Ledger(cfg.service.inbox[0])
    db.dispose()


def _statuses(db, table) -> dict[str, int]:
    with db.connect() as c:
        rows = c.execute(text(f"select status, count(*) from {table.name} group by status"))
        return dict(rows.all())


@pytest.mark.parametrize("events", [True, False], ids=["events", "polling-only"])
def test_files_before_start_duplicates_and_delivery(env, ctx: Context, events: bool):
    cfg, db, ledger = env
    ledger.drop("a.png", PNG)
    ledger.drop("scanner2/two.pdf", TWO)
    ledger.drop("again.png", PNG)  # identical content under another name
    run_service(cfg, db, ctx, events=events)
    ledger.drop("a.png", PNG)  # the same name and content dropped again later
    run_service(cfg, db, ctx, events=events)

    audit = ledger.audit(cfg, db)
    audit.record(kills=0)
    assert audit.outcome["scanner2/two.pdf"] == "processed"
    assert _statuses(db, documents) == {"processed": 2, "duplicate": 2}
    assert _statuses(db, records) == {"delivered": 3}  # two forms in two.pdf, one in a.png
    assert _statuses(db, deliveries) == {"delivered": 6}
    with db.connect() as c:
        dup = c.execute(select(documents).where(documents.c.status == "duplicate")).all()
        first = c.execute(select(documents.c.id).where(documents.c.source == "a.png")).scalar()
    assert {d.duplicate_of for d in dup} == {first}
    # the export folder: the original bit-identical, a manifest, DONE
    folders = sorted((cfg.delivery.targets[1].path or Path()).rglob("DONE"))
    assert len(folders) == 3
    meta = json.loads((folders[0].parent / "record.json").read_text())
    assert meta["schema_version"] == 1 and meta["record"]["template"]["id"]


def test_bad_files_are_quarantined_with_their_reason(env, ctx: Context):
    cfg, db, ledger = env
    ledger.drop("empty.pdf", b"")
    ledger.drop("letter.txt", b"Hej!\n")
    ledger.drop("cut.pdf", PDF[: len(PDF) // 2])  # never completes
    ledger.drop("locked.pdf", encrypted_pdf())
    ledger.drop("bomb.png", png_header_only(60_000, 60_000))
    ledger.drop("good.png", PNG)
    run_service(cfg, db, ctx)

    audit = ledger.audit(cfg, db)
    audit.record(kills=0)
    q = cfg.service.quarantine
    reasons = {
        p.name.removesuffix(".reason.json"): json.loads(p.read_text())["reason"]
        for p in q.rglob("*.reason.json")
    }
    assert reasons == {
        "empty.pdf": "empty_file",
        "letter.txt": "unsupported_format",
        "cut.pdf": "truncated_file",
        "locked.pdf": "encrypted_pdf",
        "bomb.png": "too_large",
    }
    assert audit.outcome["good.png"] == "processed"
    s = status_summary(db, cfg)
    assert s["documents"] == {"processed": 1, "quarantined": 5}
    assert {f["reason"] for f in s["recent_failures"]} == set(reasons.values())


def _slow_write(path: Path, data: bytes, pieces: int, pause: float) -> None:
    step = len(data) // pieces + 1
    with path.open("wb") as f:
        for i in range(0, len(data), step):
            f.write(data[i : i + step])
            f.flush()
            time.sleep(pause)


def _reopening_write(path: Path, data: bytes, pause: float) -> None:
    half = len(data) // 2
    path.write_bytes(data[:half])
    time.sleep(pause)  # closed and stable for several polls, but no end marker yet
    with path.open("ab") as f:
        f.write(data[half:])


def _part_then_rename(path: Path, data: bytes, pause: float) -> None:
    part = path.with_name(path.name + ".part")
    _slow_write(part, data, 4, pause)
    part.rename(path)


def test_writers_racing_the_watcher(env, ctx: Context):
    cfg, db, ledger = env
    inbox = cfg.service.inbox[0]
    poll = cfg.service.poll_seconds
    writers = [
        ("slow.pdf", PDF, lambda p, d: _slow_write(p, d, 12, poll * 1.5)),
        ("reopened.pdf", TWO, lambda p, d: _reopening_write(p, d, poll * 8)),
        (
            "renamed.pdf",
            PDF + b"% another copy\n",
            lambda p, d: _part_then_rename(p, d, poll * 1.5),
        ),
    ]
    inbox.mkdir(parents=True)
    threads = []
    for name, data, write in writers:
        ledger.expect(name, data)
        t = threading.Thread(target=write, args=(inbox / name, data))
        t.start()
        threads.append(t)
    # Each writer has begun before the service starts, so it never looks idle too soon.
    wait_for(lambda: len(list(inbox.iterdir())) == 3, what="the writers to start")
    _svc, th = start_service(cfg, db, ctx)
    for t in threads:
        t.join()
    th.join(timeout=120)
    assert not th.is_alive()
    if ledger.audit(cfg, db).lost:  # a writer finished after the service went idle
        run_service(cfg, db, ctx)

    audit = ledger.audit(cfg, db)
    audit.record(kills=0)
    assert audit.outcome == {n: "processed" for n, _, _ in writers}
    with db.connect() as c:
        sources = c.execute(select(documents.c.source)).scalars().all()
    assert sorted(sources) == sorted(n for n, _, _ in writers)  # no .part, no half file


def test_disk_full_at_intake_and_at_export(env, ctx: Context, tmp_path: Path, monkeypatch):
    cfg, db, ledger = env
    once = tmp_path / "once"
    once.mkdir()
    monkeypatch.setenv("BLANKETT_FAILPOINTS", "store.write=enospc,export.write=enospc")
    monkeypatch.setenv("BLANKETT_FAILPOINTS_ONCE", str(once))
    ledger.drop("a.png", PNG)
    run_service(cfg, db, ctx)

    assert sorted(p.name for p in once.iterdir()) == ["export.write.fired", "store.write.fired"]
    ledger.audit(cfg, db).record(kills=0)
    with db.connect() as c:
        d = c.execute(select(deliveries).where(deliveries.c.target == "export")).one()
        reasons = (
            c.execute(select(events.c.reason).where(events.c.entity == "delivery")).scalars().all()
        )
    assert d.status == "delivered" and d.attempts == 2
    assert "target_unavailable" in reasons


def test_permanent_delivery_failure_is_visible_and_resent_after_a_fix(env, ctx: Context):
    cfg, db, ledger = env
    export = cfg.delivery.targets[1].path
    assert export is not None
    export.parent.mkdir(parents=True, exist_ok=True)
    export.write_text("a file where the export folder should be")
    ledger.drop("a.png", PNG)
    run_service(cfg, db, ctx)

    s = status_summary(db, cfg)
    (problem,) = s["delivery_problems"]
    assert problem["status"] == "failed" and problem["reason"] == "target_rejected"
    assert s["records"] == {"accepted": 1}
    with pytest.raises(StateError):
        retry_delivery(db, problem["delivery"] + 100, "test")

    export.unlink()  # the fix
    retry_delivery(db, problem["delivery"], "test")
    run_service(cfg, db, ctx)
    ledger.audit(cfg, db).record(kills=0)
    assert _statuses(db, records) == {"delivered": 1}


def test_redelivery_is_a_no_op_at_every_target(env, ctx: Context):
    cfg, db, ledger = env
    ledger.drop("a.png", PNG)
    run_service(cfg, db, ctx)
    # Pretend the service died after sending but before marking: send everything again.
    with db.begin() as c:
        c.execute(deliveries.update().values(status="pending", attempts=0))
        c.execute(records.update().values(status="accepted"))
    targets = build_targets(cfg)
    run = deliver_due(db, targets, build_originals(cfg), cfg.delivery)
    run2 = deliver_due(db, targets, build_originals(cfg), cfg.delivery)
    assert (run.delivered, run2.delivered) == (2, 0)
    audit = ledger.audit(cfg, db)
    audit.record(kills=0)
    assert audit.duplicated_deliveries == 0


def test_retry_after_the_cause_is_fixed(env, ctx: Context):
    cfg, db, ledger = env
    small = cfg.model_copy(update={"limits": cfg.limits.model_copy(update={"max_pixels": 10})})
    ledger.drop("a.png", PNG)  # too large for this config
    ledger.drop("cut.pdf", PDF[:-4000])
    with open_context(small, templates=ctx.templates) as small_ctx:
        run_service(small, db, small_ctx)
    with db.connect() as c:
        rows = dict(c.execute(select(documents.c.source, documents.c.id)).all())
    assert ledger.audit(cfg, db).outcome == {"a.png": "quarantined", "cut.pdf": "quarantined"}
    with pytest.raises(StateError, match="still"):
        retry_document(db, rows["cut.pdf"], build_originals(cfg), cfg, "test")

    # fixes: a sane pixel limit; a good copy of the cut file put in its quarantine place
    qcut = cfg.service.quarantine / "cut.pdf"
    qcut.write_bytes(PDF)
    for source in ("a.png", "cut.pdf"):
        retry_document(db, rows[source], build_originals(cfg), cfg, "test")
    run_service(cfg, db, ctx)
    assert not list(cfg.service.quarantine.rglob("*.reason.json"))
    with db.connect() as c:
        st = dict(c.execute(select(documents.c.source, documents.c.status)).all())
    assert st == {"a.png": "processed", "cut.pdf": "processed"}
    with pytest.raises(StateError, match="only failed or quarantined"):
        retry_document(db, rows["a.png"], build_originals(cfg), cfg, "test")


def test_the_service_refuses_its_own_folders_inside_the_inbox(tmp_path: Path, ctx: Context):
    cfg = service_config(tmp_path, quarantine=tmp_path / "inbox" / "q")
    db = open_state_db(cfg.database_url)
    with pytest.raises(ConfigError, match="inside the inbox"):
        Service(cfg, db, build_originals(cfg), InlineDispatcher(ctx), {})
    db.dispose()


def test_sigterm_lets_the_documents_in_hand_finish(env, ctx: Context):
    cfg, db, ledger = env
    ledger.drop("a.png", PNG)
    ledger.drop("b.pdf", PDF)
    svc, th = start_service(cfg, db, ctx)
    svc.until_idle = False
    wait_for(lambda: svc.tally.taken >= 2, what="both files taken")
    svc.stopping = True  # what the SIGTERM handler does
    svc.wake.set()
    th.join(timeout=60)
    assert not th.is_alive()
    assert "processing" not in _statuses(db, documents)
    run_service(cfg, db, ctx)
    ledger.audit(cfg, db).record(kills=0)


def test_a_database_outage_loses_no_outcome(env, ctx: Context, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import pipeline.service.loop as service_module

    cfg, db, ledger = env
    real = service_module.record_outcome
    calls = []

    def flaky(*args, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("insert", {}, Exception("server closed the connection"))
        return real(*args, **kw)

    monkeypatch.setattr(service_module, "record_outcome", flaky)
    ledger.drop("a.png", PNG)
    run_service(cfg, db, ctx)
    assert len(calls) == 2  # the same outcome written on the next turn, not recomputed
    audit = ledger.audit(cfg, db)
    audit.record(kills=0)
    assert audit.outcome == {"a.png": "processed"}
