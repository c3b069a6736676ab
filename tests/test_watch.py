"""Inbox watching rules: stability over polls, temporary names, incomplete formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import ServiceConfig
from pipeline.service.watch import Inbox, StabilityTracker, ignored
from pipeline.stages.ingest import file_complete
from tests.conftest import SAMPLES


def test_a_file_is_stable_after_unchanged_polls():
    t = StabilityTracker(polls=2)
    p = Path("a.pdf")
    assert not t.observe(p, 10, 1, now=0)  # first sight
    assert not t.observe(p, 10, 1, now=1)  # unchanged once
    assert t.observe(p, 10, 1, now=2)  # unchanged twice: ready


def test_growth_or_a_new_mtime_or_an_event_starts_over():
    t = StabilityTracker(polls=2)
    p = Path("a.pdf")
    t.observe(p, 10, 1, now=0)
    t.observe(p, 10, 1, now=1)
    assert not t.observe(p, 20, 1, now=2)  # grew
    assert not t.observe(p, 20, 1, now=3)
    assert not t.observe(p, 20, 2, now=4)  # rewritten, same size
    t.observe(p, 20, 2, now=5)
    t.touched(p, 5.5)  # a file event between polls
    assert not t.observe(p, 20, 2, now=6)
    assert t.observe(p, 20, 2, now=7)


@pytest.mark.parametrize(
    ("name", "skip"),
    [
        (".hidden.pdf", True),
        ("~$scan.pdf", True),
        ("scan.pdf.tmp", True),
        ("scan.PART", True),
        ("scan.pdf", False),
        ("Skanning 2026-11-21.TIF", False),
    ],
)
def test_temporary_names_are_ignored(name: str, skip: bool):
    assert ignored(name) is skip


def _inbox(tmp_path: Path, **kw: object) -> Inbox:
    cfg = ServiceConfig(inbox=(tmp_path,), stable_polls=1, **kw)  # type: ignore[arg-type]
    return Inbox(cfg)


def test_an_incomplete_file_waits_then_is_handed_over_after_the_grace_time(tmp_path: Path):
    data = (SAMPLES / "parkeringstillstand" / "scan-01.pdf").read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[:5000])
    (tmp_path / ".x.pdf.tmp").write_bytes(data)
    inbox = _inbox(tmp_path, incomplete_after_seconds=10)
    assert inbox.poll(0) == []
    assert inbox.poll(1) == []  # stable, but no end marker: waits
    assert inbox.poll(5) == []
    (ready,) = inbox.poll(11)
    assert ready.path.name == "cut.pdf"  # after the grace time, for intake to quarantine
    assert inbox.waiting() == 1  # the temporary file is never tracked


def test_a_file_completed_while_waiting_is_taken_whole(tmp_path: Path):
    data = (SAMPLES / "parkeringstillstand" / "scan-01.pdf").read_bytes()
    p = tmp_path / "sub" / "a.pdf"
    p.parent.mkdir()
    p.write_bytes(data[:5000])
    inbox = _inbox(tmp_path)
    inbox.poll(0)
    assert inbox.poll(1) == []
    p.write_bytes(data)
    assert inbox.poll(2) == []  # changed: stability starts over
    (ready,) = inbox.poll(3)
    assert ready.path == p


def test_empty_files_get_the_grace_time_too(tmp_path: Path):
    (tmp_path / "new.pdf").write_bytes(b"")
    inbox = _inbox(tmp_path, incomplete_after_seconds=10)
    inbox.poll(0)
    assert inbox.poll(1) == []
    (ready,) = inbox.poll(12)
    assert ready.path.name == "new.pdf"


def test_tiff_completeness_follows_the_directory_chain(tmp_path: Path):
    data = (SAMPLES / "forskoleplats" / "scan-02-bilevel.tif").read_bytes()
    p = tmp_path / "a.tif"
    p.write_bytes(data)
    assert file_complete(p) == ("tiff", None)
    for cut in (len(data) - 500, len(data) // 2, 6):
        p.write_bytes(data[:cut])
        kind, why = file_complete(p)
        assert kind == "tiff" and why and "truncated" in why
