"""The fakes behave like what they stand in for (tests/fakes.py), and the outbox delivers
a record built through the store to a recording target, also when that target hangs."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from pipeline.adapters.local_originals import LocalOriginals
from pipeline.config import DeliveryConfig
from pipeline.db import records as stored
from pipeline.db import state
from pipeline.db.schema import deliveries, events
from pipeline.errors import EngineError, TargetRejected, TargetUnavailable
from pipeline.ports import CaseTarget, OcrEngine, OcrHints, OcrResult, Parcel
from pipeline.records import RecordStatus, StoredDocument, StoredField, StoredRecord
from pipeline.service.outbox import Courier, deliver_due, enqueue
from pipeline.stages.deliver import OwnFile, idempotency_key, payload
from tests.fakes import RecordingTarget, ScriptedEngine, flagged, make_record, record_builder

DELIVERY = DeliveryConfig(targets=(), retry_seconds=0.01, max_retry_seconds=0.05, max_attempts=3)
HINTS = OcrHints(lang="swe")
CROP = np.full((20, 60), 255, dtype=np.uint8)


def _parcel(tmp_path: Path, record_key: str = "ab:1", target: str = "t") -> Parcel:
    original = tmp_path / "scan.pdf"
    original.write_bytes(b"%PDF-1.4 scan")
    rec = StoredRecord(
        key=record_key,
        document_id=1,
        status=RecordStatus.ACCEPTED,
        template_id="parkeringstillstand",
        template_version=1,
        pages=(1,),
        fields=(StoredField("fornamn", "Åsa", "Åsa", 0.97, False),),
    )
    doc = StoredDocument(1, "in/scan.pdf", "ab" * 32, 13, "pdf", "x.pdf", dt.datetime.now(dt.UTC))
    key = idempotency_key(record_key, target)
    return Parcel(
        key,
        rec,
        doc,
        payload(key, rec, doc, OwnFile("scan.pdf", "0" * 64, 1)),
        original,
        "scan.pdf",
    )


def _accept(db: Engine, key: str, targets: tuple[str, ...]) -> None:
    """What review does on the last issue: accept and write the outbox, in one go."""
    with db.begin() as conn:
        state.move(conn, "record", key, RecordStatus.ACCEPTED, actor="olle")
        enqueue(conn, key, targets)


def _status(db: Engine, key: str) -> RecordStatus:
    with db.connect() as conn:
        rec = stored.load(conn, key)
    assert rec is not None
    return rec.status


def _wait(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


# -- the fakes on their own -------------------------------------------------------------


def test_fakes_satisfy_the_ports():
    engine: OcrEngine = ScriptedEngine()
    target: CaseTarget = RecordingTarget()
    assert engine.read(CROP, HINTS) == OcrResult("", 0.99)
    assert target.name == "t"


def test_recording_target_is_idempotent_per_key(tmp_path: Path):
    target = RecordingTarget()
    p = _parcel(tmp_path)
    target.send(p)
    target.send(p)  # a re-send after a crash between sending and marking
    other = _parcel(tmp_path, "cd:1")
    target.send(other)
    assert len(target.sent) == 3
    assert target.keys == [p.idempotency_key, other.idempotency_key]
    assert target.originals[p.idempotency_key] == b"%PDF-1.4 scan"


def test_recording_target_fails_as_scripted(tmp_path: Path):
    p = _parcel(tmp_path)
    down = RecordingTarget(unavailable=2)
    for _ in range(2):
        with pytest.raises(TargetUnavailable):
            down.send(p)
    down.send(p)
    assert down.attempts == 3 and down.keys == [p.idempotency_key]

    refusing = RecordingTarget(rejected="no such case type")
    with pytest.raises(TargetRejected, match="no such case type"):
        refusing.send(p)
    assert refusing.cases == {} and len(refusing.errors) == 1

    queued = RecordingTarget().fail_with(TargetRejected("bad"), OSError("share gone"))
    with pytest.raises(TargetRejected):
        queued.send(p)
    with pytest.raises(OSError):
        queued.send(p)
    queued.send(p)
    assert queued.keys == [p.idempotency_key]


def test_slow_target_waits_for_its_gate_and_gives_up_in_time(tmp_path: Path):
    gate = threading.Event()
    target = RecordingTarget(gate=gate, gate_timeout=0.05)
    with pytest.raises(TargetUnavailable, match="timed out"):
        target.send(_parcel(tmp_path))
    assert target.timed_out and target.entered.is_set() and target.cases == {}
    gate.set()
    target.send(_parcel(tmp_path))
    assert len(target.cases) == 1


def test_scripted_engine_answers_in_order_and_records_hints():
    eng = ScriptedEngine(["19420109-9632", OcrResult("Åsa", 0.42)])
    digits = OcrHints(lang="swe", whitelist="0123456789-")
    assert eng.read(CROP, digits) == OcrResult("19420109-9632", 0.99)
    assert eng.read(CROP, HINTS) == OcrResult("Åsa", 0.42)
    with pytest.raises(AssertionError, match="no answer scripted for call 3"):
        eng.read(CROP, HINTS)
    assert eng.hints == [digits, HINTS, HINTS]
    assert eng.calls[0].shape == (20, 60)


def test_scripted_engine_by_number_by_function_and_errors():
    by_number = ScriptedEngine({2: "B"}, default=OcrResult("", 0.9))
    assert [by_number.read(CROP, HINTS).text for _ in range(3)] == ["", "B", ""]

    by_hint = ScriptedEngine(lambda img, h: "123" if h.whitelist else "abc")
    assert by_hint.read(CROP, OcrHints("swe", "0123456789")).text == "123"
    assert by_hint.read(CROP, HINTS).text == "abc"

    failing = ScriptedEngine(["a", "b", "c"], fail_on={2: EngineError("tesseract died")})
    assert failing.read(CROP, HINTS).text == "a"
    with pytest.raises(EngineError, match="tesseract died"):
        failing.read(CROP, HINTS)
    assert failing.read(CROP, HINTS).text == "b"  # the failed call used no answer
    inline = ScriptedEngine([EngineError("no traineddata for swe")])
    with pytest.raises(EngineError):
        inline.read(CROP, HINTS)
    inline.close()
    with pytest.raises(EngineError, match="after close"):
        inline.read(CROP, HINTS)


# -- the builder ------------------------------------------------------------------------


def test_builder_goes_through_the_state_machine(db: Engine, originals: LocalOriginals):
    key = make_record(
        db,
        fields={"fornamn": "Åsa", "personnummer": flagged("19420109-9639", "checksum")},
        issues=("poor_alignment",),
        originals=originals,
    )
    with db.connect() as conn:
        got = stored.load_with_document(conn, key)
        trail = conn.execute(
            select(events.c.entity, events.c.action, events.c.after).order_by(events.c.id)
        ).all()
    assert got is not None
    rec, doc = got
    assert rec.status is RecordStatus.NEEDS_REVIEW and rec.version == 1
    assert rec.values() == {"fornamn": "Åsa", "personnummer": "19420109-9639"}
    pn = rec.find("personnummer")
    assert pn is not None and pn.needs_review and pn.issues == ("checksum",)
    assert rec.issues == ("poor_alignment",) and rec.flagged == 2
    assert doc.stored is not None and originals.path(doc.stored).is_file()
    assert [tuple(t) for t in trail] == [
        ("document", "created", "received"),
        ("document", "status", "processing"),
        ("document", "status", "processed"),
        ("record", "created", "needs_review"),
    ]
    unidentified = record_builder(db)(status="unidentified")
    assert _status(db, unidentified) is RecordStatus.UNIDENTIFIED


# -- real use: the outbox ---------------------------------------------------------------


def test_outbox_delivers_a_built_record_to_the_target(db: Engine, originals: LocalOriginals):
    key = make_record(
        db, fields={"fornamn": "Åsa", "ny_ansokan": True, "epost": None}, originals=originals
    )
    _accept(db, key, ("t",))
    target = RecordingTarget("t", unavailable=1)

    first = deliver_due(db, {"t": target}, originals, DELIVERY)
    assert (first.delivered, first.retrying) == (0, 1)
    assert _wait(lambda: deliver_due(db, {"t": target}, originals, DELIVERY).delivered == 1)

    (parcel,) = target.cases.values()
    assert parcel.record.key == key
    assert parcel.record.values() == {"fornamn": "Åsa", "ny_ansokan": True, "epost": None}
    assert parcel.payload["record"]["fields"]["fornamn"]["value"] == "Åsa"
    assert parcel.idempotency_key == idempotency_key(key, "t")
    assert parcel.original == originals.path(parcel.document.stored or "")
    assert target.originals[parcel.idempotency_key].startswith(b"%PDF-1.4")
    assert _status(db, key) is RecordStatus.DELIVERED
    assert deliver_due(db, {"t": target}, originals, DELIVERY).delivered == 0


def test_a_slow_target_does_not_stall_the_database(db: Engine, originals: LocalOriginals):
    build = record_builder(db, originals)
    first = build(fields={"fornamn": "Åsa"})
    _accept(db, first, ("t",))
    gate = threading.Event()
    target = RecordingTarget("t", gate=gate)
    courier = Courier(db, {"t": target}, originals, DELIVERY)
    courier.start()
    try:
        courier.poke()
        assert target.entered.wait(10), "the courier never reached the target"
        # The courier is held inside send; this thread still writes and accepts work
        # (SQLite's busy timeout would have made it wait had the courier held a lock).
        second = build(fields={"fornamn": "Bo"})
        _accept(db, second, ("t",))
        assert not courier.idle() and target.cases == {}
        assert _status(db, first) is RecordStatus.ACCEPTED
        gate.set()
        courier.poke()
        assert _wait(lambda: _status(db, second) is RecordStatus.DELIVERED)
    finally:
        gate.set()
        courier.stop()
    assert _status(db, first) is RecordStatus.DELIVERED
    assert {p.record.values()["fornamn"] for p in target.cases.values()} == {"Åsa", "Bo"}
    assert not target.timed_out and courier.delivered == 2
    with db.connect() as conn:
        left = conn.execute(
            select(func.count()).where(deliveries.c.status != state.DeliveryStatus.DELIVERED)
        ).scalar_one()
    assert left == 0
