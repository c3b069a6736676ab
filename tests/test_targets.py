"""The folder case target as a case worker meets it: fields.csv opened in a spreadsheet."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

from pipeline.adapters.folder_target import FolderTarget, record_folder_name
from pipeline.ports import Parcel
from pipeline.records import RecordStatus, StoredDocument, StoredField, StoredRecord
from pipeline.stages.deliver import OwnFile, idempotency_key, payload

HOSTILE = {
    "a": '=HYPERLINK("http://x","klicka")',
    "b": "+46701234567",
    "c": "-1+1",
    "d": "@SUM(A1)",
    "e": "\tTAB",
    "f": "Åsa Öberg",
}


def test_fields_csv_cannot_start_a_formula_but_the_json_keeps_the_value(tmp_path: Path):
    original = tmp_path / "scan.pdf"
    original.write_bytes(b"%PDF-1.4 test")
    rec = StoredRecord(
        "ab" * 32 + ":1",
        1,
        RecordStatus.ACCEPTED,
        "form",
        1,
        (1,),
        tuple(StoredField(k, v, v, 0.99, False) for k, v in HOSTILE.items()),
    )
    doc = StoredDocument(1, "scan.pdf", "ab" * 32, 13, "pdf", "x", dt.datetime.now(dt.UTC))
    key = idempotency_key(rec.key, "export")
    FolderTarget("export", tmp_path / "out").send(
        Parcel(
            key,
            rec,
            doc,
            payload(key, rec, doc, OwnFile("scan.pdf", "0" * 64, 1)),
            original,
            "scan.pdf",
        )
    )
    folder = tmp_path / "out" / "form" / record_folder_name(rec.key)
    with (folder / "fields.csv").open(encoding="utf-8", newline="") as fh:
        cells = {row["name"]: row["value"] for row in csv.DictReader(fh)}
    for name, value in HOSTILE.items():
        if name == "f":
            assert cells[name] == value  # ordinary text is untouched
        else:
            assert cells[name] == "'" + value, name
    delivered = json.loads((folder / "record.json").read_text(encoding="utf-8"))
    assert {k: f["value"] for k, f in delivered["record"]["fields"].items()} == HOSTILE
