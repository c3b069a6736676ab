"""The review stage on SQLite and PostgreSQL: re-validation, overrides, groups, record
issues, optimistic locking, acceptance with its outbox rows; and re-reading a document
with a template an admin assigned."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pipeline.db import state
from pipeline.db.connect import open_state_db
from pipeline.db.schema import deliveries, events, records
from pipeline.errors import StateError
from pipeline.run import read_file
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


def _record(db, flagged: dict[str, object], issues: tuple[str, ...] = ()) -> str:
    values = {
        f.name: {"value": None, "text": "", "confidence": 0.99, "needs_review": False, "issues": []}
        for f in SPEC.fields
    }
    values["galler_forare"]["value"] = True
    for name, v in flagged.items():
        values[name] = {
            "value": v,
            "text": "" if v is None else str(v),
            "confidence": 0.4,
            "needs_review": True,
            "issues": ["low_confidence"],
        }
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
        state.create(
            conn,
            "record",
            "needs_review",
            {
                "key": "ab:1",
                "document_id": doc,
                "template_id": SPEC.id,
                "template_version": 1,
                "pages": [1],
                "fields": values,
                "issues": list(issues),
            },
        )
    return "ab:1"


def _edit(db, edit: Edit, version: int):
    with db.begin() as conn:
        return apply_edit(conn, "ab:1", version, edit, SPEC, "olle", TARGETS)


def _row(db):
    with db.connect() as conn:
        return conn.execute(select(records).where(records.c.key == "ab:1")).one()


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
    assert row.status == "accepted" and row.issues == []
    assert row.fields["personnummer"]["value"] == "19420109-9639"
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
    f = _row(db).fields["personnummer"]
    assert f["overridden"] == ["personnummer_checksum"]
    assert f["override_reason"] == "written so by the applicant" and f["reviewed_by"] == "olle"


def test_a_fixed_group_clears_its_issue_on_the_other_fields(db):
    _record(db, {"galler_forare": True, "galler_passagerare": True})
    with db.begin() as conn:  # as validate would have flagged them
        row = conn.execute(select(records).where(records.c.key == "ab:1")).one()
        fields = dict(row.fields)
        for n in ("galler_forare", "galler_passagerare"):
            fields[n] = {**fields[n], "issues": ["group_several_marked"]}
        conn.execute(records.update().values(fields=fields))
    r = _edit(db, Edit("galler_passagerare", ""), _row(db).version)
    assert not r.accepted and not r.refused
    other = _row(db).fields["galler_forare"]
    assert other["issues"] == [] and other["needs_review"]  # still to be looked at


def test_an_assigned_template_is_the_only_one_tried(ctx):
    png = SAMPLES / "parkeringstillstand" / "scan-03-upside-down.png"
    (rec,) = read_file(png, ctx, hint="parkeringstillstand")
    assert rec.template_id == "parkeringstillstand" and "template_assigned" in rec.issues
    assert rec.status.value == "needs_review"
    (wrong,) = read_file(png, ctx, hint="forskoleplats")
    assert wrong.template_id is None  # a hint never forces a form that does not fit
    assert ctx.catalog.only("forskoleplats").pages[0].template.id == "forskoleplats"
