"""The inbox as careless scanners and odd file systems leave it (issue 10, items 1, 5, 10,
17, 18 and 22): names that are not UTF-8, hold control characters or fill 255 bytes, a
writer pausing between pages longer than the stability window, symbolic links, and an
inbox folder that goes away. Nothing stops the service, nothing is lost or forged."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipeline.adapters.local_originals import LocalOriginals
from pipeline.config import Config
from pipeline.context import Context
from pipeline.db.connect import open_state_db
from pipeline.db.schema import documents
from pipeline.errors import ConfigError
from pipeline.service.inflow import Inflow
from pipeline.service.ops import status_summary
from pipeline.service.watch import Inbox
from tests.conftest import SAMPLES
from tests.service_kit import Ledger, run_service, service_config, start_service, wait_for

pytestmark = pytest.mark.tesseract

PDF = (SAMPLES / "parkeringstillstand" / "scan-01.pdf").read_bytes()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Config, Engine, Path]]:
    cfg = service_config(tmp_path)
    db = open_state_db(cfg.database_url)
    inbox = cfg.service.inbox[0]
    inbox.mkdir(parents=True)
    yield cfg, db, inbox
    db.dispose()


def _docs(db: Engine) -> dict[str, str]:
    with db.connect() as conn:
        rows = conn.execute(select(documents.c.source, documents.c.status)).all()
    return {r.source: r.status for r in rows}


def _drop(inbox: Path, name: bytes, data: bytes) -> None:
    (inbox / os.fsdecode(name)).write_bytes(data)


def test_names_that_are_not_utf8_are_taken_shown_escaped_and_stored(env, ctx: Context):
    cfg, db, inbox = env
    _drop(inbox, b"ans\xf6kan.txt", b"not a scan")  # Latin-1, as old Windows shares write
    _drop(inbox, b"s\xe4kert.pdf", PDF)
    run_service(cfg, db, ctx)  # returns once idle: the service did not stop on the names
    assert _docs(db) == {"ans\\xf6kan.txt": "quarantined", "s\\xe4kert.pdf": "processed"}
    assert not [p for p in inbox.rglob("*") if p.is_file()]
    (reason,) = cfg.service.quarantine.glob("*.reason.json")
    told = json.loads(reason.read_text(encoding="utf-8"))
    assert told["source"] == "ans\\xf6kan.txt" and told["reason"] == "unsupported_format"
    assert (cfg.service.quarantine / "ans\\xf6kan.txt").read_bytes() == b"not a scan"


def test_names_cannot_forge_log_lines(env, ctx: Context, caplog: pytest.LogCaptureFixture):
    cfg, db, inbox = env
    forged = "x\n2026-12-02 06:00:00 ERROR forged line\x1b[2J.txt"
    (inbox / forged).write_bytes(b"junk")
    with caplog.at_level(logging.INFO):
        run_service(cfg, db, ctx)
    assert _docs(db) == {"x\\n2026-12-02 06:00:00 ERROR forged line\\x1b[2J.txt": "quarantined"}
    said = [r.getMessage() for r in caplog.records]
    assert any("forged line" in m for m in said)
    assert not [m for m in said if "\n" in m or "\x1b" in m]


def test_255_byte_names_are_taken_or_quarantined_once(
    env, ctx: Context, caplog: pytest.LogCaptureFixture
):
    cfg, db, inbox = env
    junk = "j" * 251 + ".txt"
    scan = "å" * 125 + "x.pdf"
    assert len(junk.encode()) == 255 and len(scan.encode()) == 255
    (inbox / junk).write_bytes(b"not a scan")
    (inbox / scan).write_bytes(PDF)
    with caplog.at_level(logging.INFO):
        run_service(cfg, db, ctx)
    assert _docs(db) == {junk: "quarantined", scan: "processed"}
    kept = [p for p in cfg.service.quarantine.iterdir() if not p.name.endswith(".reason.json")]
    assert len(kept) == 1 and kept[0].read_bytes() == b"not a scan"
    assert len(kept[0].name.encode()) <= 200 and kept[0].suffix == ".txt"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _tiff(pages: int) -> bytes:
    """A TIFF of ``pages`` white pages, each a different width (to tell them apart)."""
    frames = [Image.new("L", (800 + 40 * i, 1100), 255) for i in range(pages)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:], dpi=(100, 100))
    return buf.getvalue()


def _page_by_page(path: Path, states: list[bytes], pause: float) -> None:
    """A scanner writing a multi-page TIFF into one open file, pausing after each page
    (each state is a complete TIFF, so the file looks finished at every pause)."""
    with path.open("wb") as f:
        for data in states:
            f.seek(0)
            f.write(data)
            f.truncate()
            f.flush()
            time.sleep(pause)


def test_a_writer_pausing_between_pages_loses_no_page(tmp_path: Path, ctx: Context):
    # Stable after 2 polls of 0.05 s; the writer pauses 0.6 s, ten times that.
    cfg = service_config(tmp_path, settle_seconds=2.0)
    db = open_state_db(cfg.database_url)
    inbox = cfg.service.inbox[0]
    inbox.mkdir(parents=True)
    ledger = Ledger(inbox)
    states = [_tiff(n) for n in (1, 2, 3)]
    ledger.expect("batch.tif", states[-1])
    writer = threading.Thread(target=_page_by_page, args=(inbox / "batch.tif", states, 0.6))
    writer.start()
    wait_for(lambda: (inbox / "batch.tif").exists(), what="the writer to start")
    _svc, th = start_service(cfg, db, ctx)
    writer.join()
    th.join(timeout=120)
    assert not th.is_alive()
    audit = ledger.audit(cfg, db)
    assert not audit.lost and audit.outcome == {"batch.tif": "processed"}
    with db.connect() as conn:
        (doc,) = conn.execute(select(documents)).all()
    assert doc.pages == 3 and doc.sha256 == ledger.drops[0][1]
    assert not list(inbox.rglob("*.tif"))  # nothing left behind in staging either
    db.dispose()


def test_symbolic_links_are_reported_once_and_counted(
    env, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    cfg, db, inbox = env
    elsewhere = tmp_path / "secret.pdf"
    elsewhere.write_bytes(PDF)
    (inbox / "link.pdf").symlink_to(elsewhere)
    watch = Inbox(cfg.service)
    with caplog.at_level(logging.WARNING):
        for t in range(5):
            assert watch.poll(float(t)) == []  # never followed
    assert [r.getMessage() for r in caplog.records if "link.pdf" in r.getMessage()] == [
        f"{inbox / 'link.pdf'} is a symbolic link: links are not followed; copy the file "
        "itself into the inbox and remove the link"
    ]
    assert status_summary(db, cfg)["inbox_links"] == 1


def test_an_inbox_that_goes_away_is_reported_and_watched_again(
    env, caplog: pytest.LogCaptureFixture
):
    cfg, db, inbox = env
    watch = Inbox(cfg.service)
    watch.poll(0.0)
    inbox.rmdir()  # an unmounted share
    with caplog.at_level(logging.INFO):
        for t in range(1, 6):
            watch.poll(float(t))
        gone = [r for r in caplog.records if "cannot be listed" in r.getMessage()]
        assert len(gone) == 1 and gone[0].levelno == logging.ERROR
        assert status_summary(db, cfg)["inbox_missing"] == [f"{inbox}: No such file or directory"]
        inbox.mkdir()
        (inbox / "back.pdf").write_bytes(PDF)
        ready = {r.path.name for t in range(6, 10) for r in watch.poll(float(t))}
    assert ready == {"back.pdf"}
    assert any("is back" in r.getMessage() for r in caplog.records)
    assert status_summary(db, cfg)["inbox_missing"] == []


def _inflow(cfg: Config, db: Engine) -> Inflow:
    return Inflow(cfg, db, LocalOriginals(cfg.originals_dir))


def test_a_staging_folder_swapped_for_a_link_is_never_followed(
    env, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    cfg, db, inbox = env
    victim = tmp_path / "data" / "originals"  # what an attacker would like removed
    victim.mkdir(parents=True)
    (victim / "kept.pdf").write_bytes(PDF)
    flow = _inflow(cfg, db)
    flow.start()
    try:
        root = inbox / ".blankett-taking"
        root.rename(inbox / ".old")  # possible for anyone who may write to the inbox
        root.symlink_to(victim)
        (inbox / "new.pdf").write_bytes(PDF)
        with caplog.at_level(logging.ERROR):
            for t in range(6):
                assert flow.turn(float(t)) == 0
    finally:
        flow.stop()
    assert (victim / "kept.pdf").read_bytes() == PDF and (inbox / "new.pdf").exists()
    assert len([r for r in caplog.records if "is not a folder" in r.getMessage()]) == 1
    assert _docs(db) == {}


def test_only_regular_files_are_taken_from_staging(env, caplog: pytest.LogCaptureFixture):
    cfg, db, inbox = env
    flow = _inflow(cfg, db)
    flow.start()
    try:
        os.mkfifo(inbox / ".blankett-taking" / "pipe.pdf")  # swapped in just before the move
        (inbox / "good.pdf").write_bytes(PDF)
        with caplog.at_level(logging.WARNING):
            taken = sum(flow.turn(float(t)) for t in range(6))
    finally:
        flow.stop()
    assert taken == 1 and _docs(db) == {"good.pdf": "received"}
    assert not (inbox / ".blankett-taking" / "pipe.pdf").exists()
    assert any("not a regular file" in r.getMessage() for r in caplog.records)


def test_one_service_per_inbox_and_the_sticky_bit(env):
    cfg, db, inbox = env
    inbox.chmod(0o777)  # a share the scanners' group writes to
    first = _inflow(cfg, db)
    first.start()
    try:
        assert inbox.stat().st_mode & stat.S_ISVTX  # others cannot rename our folder away
        assert stat.S_IMODE((inbox / ".blankett-taking").stat().st_mode) == 0o700
        with pytest.raises(ConfigError, match="another blankett service"):
            _inflow(cfg, db).start()
    finally:
        first.stop()
    second = _inflow(cfg, db)
    second.start()  # free again once the first has stopped
    second.stop()
