"""Deliveries carry only what belongs to the record (issue 10, items 4, 9 and 10): a scan
holding two people's forms is cut per record, a case database's own constraint is a
visible failure rather than "already delivered", and a 255-byte file name exports."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence
from pypdf import PdfReader, PdfWriter
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine

from pipeline.adapters.folder_target import FolderTarget
from pipeline.adapters.local_originals import LocalOriginals
from pipeline.adapters.sql_target import SqlCaseTarget, case_files
from pipeline.config import DeliveryConfig
from pipeline.db import records as stored
from pipeline.errors import TargetRejected
from pipeline.pagecut import own_pages
from pipeline.ports import CaseTarget, Parcel
from pipeline.records import RecordStatus, StoredDocument, StoredField, StoredRecord
from pipeline.service.outbox import deliver_due
from pipeline.stages.deliver import OwnFile, idempotency_key, payload
from tests.fakes import make_record

DELIVERY = DeliveryConfig(targets=(), retry_seconds=0.01, max_retry_seconds=0.05, max_attempts=2)
WIDTHS = (500, 510, 520)  # each page of the test scan has its own width, to tell them apart


def _pdf(widths: tuple[int, ...]) -> bytes:
    w = PdfWriter()
    for width in widths:
        w.add_blank_page(width=width, height=842)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def _tiff(widths: tuple[int, ...]) -> bytes:
    rng = np.random.default_rng(7)
    frames = [Image.fromarray(rng.integers(0, 255, (60, w // 10), dtype=np.uint8)) for w in widths]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:], dpi=(200, 200))
    return buf.getvalue()


def _two_people(
    db: Engine, originals: LocalOriginals, content: bytes, suffix: str
) -> tuple[str, str]:
    """One scan: a two-page form of one person, then a one-page form of another."""
    targets = ("case_db", "export")
    first = make_record(
        db,
        pages=(1, 2),
        status=RecordStatus.ACCEPTED,
        originals=originals,
        content=content,
        source=f"batch/scan{suffix}",
        suffix=suffix,
        targets=targets,
    )
    with db.connect() as conn:
        rec = stored.load(conn, first)
    assert rec is not None
    second = make_record(
        db,
        template_id="forskola",
        pages=(3,),
        status=RecordStatus.ACCEPTED,
        document_id=rec.document_id,
        targets=targets,
    )
    return first, second


def _targets(tmp_path: Path) -> dict[str, CaseTarget]:
    return {
        "case_db": SqlCaseTarget("case_db", f"sqlite:///{tmp_path / 'cases.sqlite3'}"),
        "export": FolderTarget("export", tmp_path / "export"),
    }


def _widths(kind: str, data: bytes) -> list[int]:
    if kind == "pdf":
        return [round(float(p.mediabox.width)) for p in PdfReader(io.BytesIO(data)).pages]
    with Image.open(io.BytesIO(data)) as im:
        return [f.size[0] * 10 for f in ImageSequence.Iterator(im)]


@pytest.mark.parametrize("kind", ["pdf", "tiff"])
def test_each_record_is_delivered_with_its_own_pages_only(
    db: Engine, originals: LocalOriginals, tmp_path: Path, kind: str
):
    content = _pdf(WIDTHS) if kind == "pdf" else _tiff(WIDTHS)
    suffix = ".pdf" if kind == "pdf" else ".tif"
    first, second = _two_people(db, originals, content, suffix)
    targets = _targets(tmp_path)
    run = deliver_due(db, targets, originals, DELIVERY)
    assert (run.delivered, run.failed) == (4, 0)
    want = {first: [500, 510], second: [520]}

    # The export folder: the scan's file in each record's folder holds its pages only.
    for rec_json in (tmp_path / "export").rglob("record.json"):
        sent = json.loads(rec_json.read_text(encoding="utf-8"))
        key = sent["record"]["key"]
        own = rec_json.parent / sent["file"]["name"]
        data = own.read_bytes()
        assert _widths(kind, data) == want[key], key
        assert sent["file"]["sha256"] == stored_sha(data)
        assert sent["file"]["name"] == ("scan.p1-2" if key == first else "scan.p3") + suffix
        want.pop(key)
    assert not want  # both records were exported

    # The case database: the file stored beside each case is its own pages as well.
    eng = create_engine(f"sqlite:///{tmp_path / 'cases.sqlite3'}")
    with eng.connect() as conn:
        rows = conn.execute(
            text(
                "select c.record_key, f.content from blankett_cases c "
                "join blankett_case_files f using (idempotency_key)"
            )
        ).all()
    eng.dispose()
    assert {r[0]: _widths(kind, r[1]) for r in rows} == {first: [500, 510], second: [520]}
    if kind == "tiff":  # lossless: the scanner's pixels, not a re-encoding
        whole = Image.open(io.BytesIO(content))
        whole.seek(2)
        cut = Image.open(io.BytesIO(dict(rows)[second]))
        assert np.array_equal(np.asarray(whole), np.asarray(cut))


def test_the_only_record_of_a_scan_gets_the_scan_bit_identical(
    db: Engine, originals: LocalOriginals, tmp_path: Path
):
    content = _pdf(WIDTHS)
    key = make_record(
        db,
        pages=(1, 2, 3),
        status=RecordStatus.ACCEPTED,
        originals=originals,
        content=content,
        source="scan.pdf",
        targets=("export",),
    )
    assert deliver_due(db, _targets(tmp_path), originals, DELIVERY).delivered == 1
    (rec_json,) = (tmp_path / "export").rglob("record.json")
    assert (rec_json.parent / "scan.pdf").read_bytes() == content
    assert json.loads(rec_json.read_text())["record"]["key"] == key


def stored_sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _parcel(tmp_path: Path, key: str, sha: str, name: str = "scan.pdf") -> Parcel:
    original = tmp_path / f"{key[:4]}.pdf"
    original.write_bytes(_pdf((500,)))
    rec = StoredRecord(
        key, 1, RecordStatus.ACCEPTED, "form", 1, (1,), (StoredField("a", "x", "x", 0.9, False),)
    )
    doc = StoredDocument(1, name, sha, 10, "pdf", "x", dt.datetime.now(dt.UTC))
    ikey = idempotency_key(key, "case_db")
    own = OwnFile(name, stored_sha(original.read_bytes()), original.stat().st_size)
    return Parcel(ikey, rec, doc, payload(ikey, rec, doc, own), original, name)


def test_a_case_database_constraint_of_its_own_is_a_delivery_failure(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'cases.sqlite3'}"
    target = SqlCaseTarget("case_db", url)
    sha = "cd" * 32
    first = _parcel(tmp_path, "aa" * 32 + ":1", sha)
    target.send(first)
    # The case system allows one case per scanned document (its own rule, not ours).
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("create unique index own_rule on blankett_cases (document_sha256)"))
    with pytest.raises(TargetRejected, match="UNIQUE"):
        target.send(_parcel(tmp_path, "bb" * 32 + ":2", sha))
    target.send(first)  # our own key already there: a no-op, not an error
    with eng.connect() as conn:
        assert conn.execute(text("select count(*) from blankett_cases")).scalar_one() == 1
        assert len(conn.execute(select(case_files)).all()) == 1
    eng.dispose()
    target.close()


def test_a_255_byte_file_name_is_exported(tmp_path: Path):
    name = "ansökan-" + "x" * (255 - len("ansökan-".encode()) - 4) + ".pdf"
    assert len(name.encode()) == 255
    parcel = _parcel(tmp_path, "ee" * 32 + ":1", "ef" * 32, name)
    FolderTarget("export", tmp_path / "export").send(parcel)
    (done,) = (tmp_path / "export").rglob("DONE")
    (kept,) = (p for p in done.parent.iterdir() if p.suffix == ".pdf")
    assert len(kept.name.encode()) <= 200 and kept.name.startswith("ansökan-xxx")
    assert kept.read_bytes() == parcel.original.read_bytes()


def _shared_resources_pdf() -> bytes:
    """Three pages, one person's image each, listed in one /Resources dictionary all pages
    share (as some scanners write), and a link on page 2 that points at page 3."""
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, StreamObject

    w = PdfWriter()
    images = {}
    for i in (1, 2, 3):
        img = StreamObject()
        img.update(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(1),
                NameObject("/Height"): NumberObject(1),
                NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                NameObject("/BitsPerComponent"): NumberObject(8),
            }
        )
        img.set_data(f"PERSON-{i}-IMAGE".encode())
        images[NameObject(f"/Im{i}")] = w._add_object(img)
    shared = w._add_object(DictionaryObject({NameObject("/XObject"): DictionaryObject(images)}))
    for i in (1, 2, 3):
        page = w.add_blank_page(200, 200)
        page[NameObject("/Resources")] = shared
        draw = StreamObject()
        draw.set_data(f"q 200 0 0 200 0 0 cm /Im{i} Do Q".encode())
        page[NameObject("/Contents")] = w._add_object(draw)
    link = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(0)] * 4),
            NameObject("/Dest"): ArrayObject([w.pages[2].indirect_reference, NameObject("/Fit")]),
        }
    )
    w.pages[1][NameObject("/Annots")] = ArrayObject([w._add_object(link)])
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def test_a_cut_page_carries_no_other_pages_content(tmp_path: Path):
    import re

    src = tmp_path / "scan.pdf"
    src.write_bytes(_shared_resources_pdf())
    cut = own_pages(src, "pdf", [2], tmp_path / "cut.pdf")
    assert set(re.findall(rb"PERSON-\d-IMAGE", cut.read_bytes())) == {b"PERSON-2-IMAGE"}
    assert len(PdfReader(cut).pages) == 1


def test_tiff_pages_are_cut_in_order_with_their_own_resolution(tmp_path: Path):
    frames = [Image.new("L", (40 + i, 30), 255 - i) for i in range(3)]
    src = tmp_path / "scan.tif"
    frames[0].save(src, save_all=True, append_images=frames[1:], compression="tiff_lzw")
    # each frame its own dpi, as a scanner switching resolution writes them
    with Image.open(src) as im, (tmp_path / "mixed.tif").open("w+b") as f:
        from PIL import TiffImagePlugin

        with TiffImagePlugin.AppendingTiffWriter(f) as tf:
            for n, dpi in enumerate((300, 200, 150)):
                im.seek(n)
                im.save(tf, format="TIFF", dpi=(dpi, dpi), compression="tiff_lzw")
                tf.newFrame()
    cut = own_pages(tmp_path / "mixed.tif", "tiff", [3, 1], tmp_path / "cut.tif")
    with Image.open(cut) as im:
        got = []
        for n in range(im.n_frames):
            im.seek(n)
            got.append((im.size[0], round(im.info["dpi"][0]), im.info["compression"]))
    assert got == [(42, 150, "tiff_lzw"), (40, 300, "tiff_lzw")]
