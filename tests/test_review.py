"""The review stage on SQLite and PostgreSQL: re-validation, overrides, groups, record
issues, optimistic locking, acceptance with its outbox rows; and re-reading a document
with a template an admin assigned."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from pipeline.db import records as stored
from pipeline.db import state
from pipeline.db.connect import open_state_db
from pipeline.db.schema import deliveries, events
from pipeline.errors import StateError
from pipeline.records import RecordStatus, StoredField, StoredRecord
from pipeline.run import read_file
from pipeline.service.review import edit_field
from pipeline.stages.review import RECORD_ISSUES, Edit, apply_edit, check_value
from pipeline.templates.load import read_spec
from tests.conftest import SAMPLES, TEMPLATES

SPEC = read_spec(TEMPLATES / "parkeringstillstand" / "template.yaml")
TARGETS = ("case_db", "export")


def field(name: str):
    return next(f for f in SPEC.fields if f.name == name)


@pytest.fixture
def db(db_urls: tuple[str, str]):
    eng = open_state_db(db_urls[0])
    yield eng
    eng.dispose()


def _record(
    db,
    flagged: dict[str, object],
    issues: tuple[str, ...] = (),
    field_issues: dict[str, tuple[str, ...]] | None = None,
) -> str:
    """A record to review, made through the store as the service makes it."""
    fields = []
    for f in SPEC.fields:
        value: object = True if f.name == "galler_forare" else None
        if f.name in flagged:
            v = flagged[f.name]
            extra = (field_issues or {}).get(f.name, ())
            fields.append(
                StoredField(
                    f.name, v, "" if v is None else str(v), 0.4, True, ("low_confidence", *extra)
                )
            )
        else:
            fields.append(StoredField(f.name, value, "", 0.99, False))  # type: ignore[arg-type]
    with db.begin() as conn:
        doc = state.create(
            conn,
            "document",
            "received",
            {
                "sha256": "ab" * 32,
                "size": 1,
                "source": "a.pdf",
                "inbox": "/in",
                "source_removed": True,
                "stored": "x.pdf",
                "attempts": 0,
            },
        )
        state.move(conn, "document", doc, "processing")
        state.move(conn, "document", doc, "processed")
        stored.insert(
            conn,
            StoredRecord(
                key="ab:1",
                document_id=int(doc),
                status=RecordStatus.NEEDS_REVIEW,
                template_id=SPEC.id,
                template_version=1,
                pages=(1,),
                fields=tuple(fields),
                issues=issues,
            ),
        )
    return "ab:1"


def _edit(db, edit: Edit, version: int):
    return edit_field(db, "ab:1", version, edit, lambda _form, _v: SPEC, "olle", TARGETS)


def _row(db) -> StoredRecord:
    with db.connect() as conn:
        rec = stored.load(conn, "ab:1")
    assert rec is not None
    return rec


def _value(db, name: str) -> StoredField:
    f = _row(db).find(name)
    assert f is not None
    return f


def test_marks_choices_and_types_are_checked_as_typed():
    values = {"galler_forare": True}
    assert check_value(SPEC, field("ny_ansokan"), "x", values) == (True, [])
    assert check_value(SPEC, field("ny_ansokan"), "", values)[0] is False
    assert "not_a_mark" in check_value(SPEC, field("ny_ansokan"), "kanske", values)[1]
    assert check_value(SPEC, field("postnummer"), "27936", values) == ("279 36", [])
    assert (
        "personnummer_checksum"
        in check_value(SPEC, field("personnummer"), "19420109-9632", values)[1]
    )
    svar = field("svar_via")
    assert check_value(SPEC, svar, svar.options[0].value, values)[1] == []
    assert check_value(SPEC, svar, "brevduva", values)[1] == ["value_not_allowed"]


def test_fields_then_record_accepted_with_outbox_in_one_go(db):
    _record(db, {"fornamn": "Håkan", "personnummer": "19420109-9632"}, ("poor_alignment",))
    v = _row(db).version
    r = _edit(db, Edit("fornamn", None), v)  # Enter: confirmed as read
    assert not r.accepted and not r.refused
    refused = _edit(db, Edit("personnummer", None), r.version)
    assert refused.refused == ("personnummer_checksum",) and refused.version == r.version
    with pytest.raises(StateError, match="changed by someone else"):
        _edit(db, Edit("personnummer", "19420109-9639"), v)  # an old copy
    r = _edit(db, Edit("personnummer", "19420109-9639"), r.version)
    assert not r.accepted  # the record-level issue is still open
    r = _edit(db, Edit(RECORD_ISSUES, None), r.version)
    assert r.accepted
    row = _row(db)
    assert row.status == "accepted" and row.issues == ()
    assert _value(db, "personnummer").value == "19420109-9639"
    with db.connect() as conn:
        outbox = (
            conn.execute(select(deliveries.c.target).order_by(deliveries.c.target)).scalars().all()
        )
        actions = conn.execute(
            select(events.c.action, events.c.field)
            .where(events.c.actor == "olle")
            .order_by(events.c.id)
        ).all()
    assert outbox == list(TARGETS)
    assert [tuple(a) for a in actions] == [
        ("confirmed", "fornamn"),
        ("corrected", "personnummer"),
        ("acknowledged", RECORD_ISSUES),
        ("status", None),
    ]
    with pytest.raises(StateError, match="nothing to review"):
        _edit(db, Edit("fornamn", "x"), row.version)


def test_an_override_keeps_the_value_and_its_reason(db):
    _record(db, {"personnummer": "19420109-9632"})
    r = _edit(
        db, Edit("personnummer", None, override="written so by the applicant"), _row(db).version
    )
    assert r.accepted
    f = _value(db, "personnummer")
    assert f.overridden == ("personnummer_checksum",)
    assert f.override_reason == "written so by the applicant" and f.reviewed_by == "olle"


def test_a_fixed_group_clears_its_issue_on_the_other_fields(db):
    several = ("group_several_marked",)  # as validate flags them
    _record(
        db,
        {"galler_forare": True, "galler_passagerare": True},
        field_issues={"galler_forare": several, "galler_passagerare": several},
    )
    r = _edit(db, Edit("galler_passagerare", ""), _row(db).version)
    assert not r.accepted and not r.refused
    other = _value(db, "galler_forare")
    assert "group_several_marked" not in other.issues and other.needs_review  # still to see


def test_the_review_stage_is_pure_and_leaves_its_input_alone():
    rec = StoredRecord(
        "k:1",
        1,
        RecordStatus.NEEDS_REVIEW,
        SPEC.id,
        1,
        (1,),
        tuple(StoredField(f.name, None, "", 0.4, f.name == "fornamn") for f in SPEC.fields),
    )
    now = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
    out = apply_edit(rec, Edit("fornamn", "Åsa"), SPEC, "olle", now)
    assert rec.find("fornamn").value is None  # frozen input, new record out
    new = out.record.find("fornamn")
    assert new.value == "Åsa" and new.reviewed_by == "olle" and new.reviewed_at == now
    assert [e.action for e in out.events] == ["corrected"] and out.done
    refused = apply_edit(rec, Edit("personnummer", "19420109-9632"), SPEC, "olle", now)
    assert refused.refused == ("personnummer_checksum",)
    assert refused.record is rec and refused.events == () and not refused.done


@pytest.mark.tesseract
def test_an_assigned_template_is_the_only_one_tried(ctx):
    png = SAMPLES / "parkeringstillstand" / "scan-03-upside-down.png"
    (rec,) = read_file(png, ctx, hint="parkeringstillstand")
    assert rec.template_id == "parkeringstillstand" and "template_assigned" in rec.issues
    assert rec.status.value == "needs_review"
    (wrong,) = read_file(png, ctx, hint="forskoleplats")
    assert wrong.template_id is None  # a hint never forces a form that does not fit
    assert ctx.catalog.only("forskoleplats").pages[0].template.id == "forskoleplats"
