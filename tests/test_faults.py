"""Fault injection on the real service: ``blankett watch`` in a subprocess with its
process pool, killed with SIGKILL at each step of intake, processing and delivery
(failpoints, see pipeline/failpoints.py), a worker killed, a document that kills every
worker, and SIGTERM. After each, a restart must finish the work; the SHA-256 ledger then
shows nothing lost and nothing doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.db.connect import open_state_db
from pipeline.db.schema import documents
from tests.conftest import SAMPLES
from tests.service_kit import Ledger, service_config, wait_for, write_config

# `blankett watch` subprocesses reading forms; db_urls also runs them on PostgreSQL.
pytestmark = [pytest.mark.integration, pytest.mark.tesseract]

PNG = (SAMPLES / "parkeringstillstand" / "scan-03-upside-down.png").read_bytes()
JPG = (SAMPLES / "parkeringstillstand" / "scan-02.jpg").read_bytes()
BLANKETT = str(Path(sys.executable).with_name("blankett"))
TIMEOUT = 180


def watch(
    cfg_path: Path, *args: str, env: dict[str, str] | None = None, **kw: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BLANKETT, "watch", "--until-idle", "-c", str(cfg_path), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture
def setup(tmp_path: Path, db_urls: tuple[str, str]):
    cfg = service_config(tmp_path, db_urls[0], db_urls[1])
    path = write_config(cfg, tmp_path / "config.yaml")
    once = tmp_path / "fired"
    once.mkdir()
    yield cfg, path, Ledger(cfg.service.inbox[0]), once


STEPS = [
    "store.write",  # in the middle of copying into the store
    "ingest.after_store",  # kept in the store, no documents row yet
    "ingest.after_commit",  # row committed, file still in the inbox
    "ingest.after_remove",  # file gone from the inbox, removal not yet noted
    "process.before_commit",  # the worker finished; its outcome not yet written
    "deliver.before_send",
    "deliver.after_send",  # the case database has it; the outbox does not know
    "export.after_rename",  # the export folder is in place without DONE
    "deliver.after_mark",
]


@pytest.mark.parametrize("step", STEPS)
def test_service_killed_at_each_step(setup, step: str):
    cfg, path, ledger, once = setup
    ledger.drop("a.png", PNG)
    first = watch(
        path, env={"BLANKETT_FAILPOINTS": f"{step}=kill", "BLANKETT_FAILPOINTS_ONCE": str(once)}
    )
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    assert (once / f"{step}.fired").exists()
    second = watch(path)
    assert second.returncode == 0, second.stderr[-2000:]
    db = open_state_db(cfg.database_url)
    try:
        audit = ledger.audit(cfg, db)
    finally:
        db.dispose()
    audit.record(kills=1)
    assert audit.outcome == {"a.png": "processed"}


def test_a_killed_worker_is_replaced_and_its_document_run_again(setup):
    cfg, path, ledger, once = setup
    ledger.drop("a.png", PNG)
    ledger.drop("b.jpg", JPG)
    res = watch(
        path,
        "--workers",
        "2",
        env={"BLANKETT_FAILPOINTS": "worker.process=kill", "BLANKETT_FAILPOINTS_ONCE": str(once)},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "a worker process died" in res.stderr
    db = open_state_db(cfg.database_url)
    try:
        audit = ledger.audit(cfg, db)
    finally:
        db.dispose()
    audit.record(kills=1)
    assert audit.outcome == {"a.png": "processed", "b.jpg": "processed"}


def test_a_document_that_kills_every_worker_is_failed_not_retried_for_ever(setup):
    cfg, path, ledger, _ = setup
    ledger.drop("poison.png", PNG)
    res = watch(path, env={"BLANKETT_FAILPOINTS": "worker.process=kill"})
    assert res.returncode == 0, res.stderr[-2000:]
    db = open_state_db(cfg.database_url)
    try:
        with db.connect() as c:
            doc = c.execute(select(documents)).one()
        audit = ledger.audit(cfg, db)
    finally:
        db.dispose()
    assert (doc.status, doc.reason, doc.attempts) == ("failed", "worker_crashed", 3)
    audit.record(kills=3)


def test_sigterm_finishes_the_documents_in_hand(setup):
    cfg, path, ledger, _ = setup
    ledger.drop("a.png", PNG)
    proc = subprocess.Popen([BLANKETT, "watch", "-c", str(path)], stderr=subprocess.PIPE, text=True)
    db = open_state_db(cfg.database_url)
    try:

        def in_hand() -> bool:
            with db.connect() as c:
                st = c.execute(select(documents.c.status)).scalars().all()
            return st == ["processing"]

        wait_for(in_hand, timeout=TIMEOUT, what="a document in processing")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, err[-2000:]
        assert "stopping after the documents in hand" in err
        with db.connect() as c:
            assert c.execute(select(documents.c.status)).scalars().all() == ["processed"]
        watch(path)  # deliver what the stop left pending
        ledger.audit(cfg, db).record(kills=0)
    finally:
        if proc.poll() is None:
            proc.kill()
        db.dispose()
