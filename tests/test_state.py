"""State: migrations equal the table definitions; one module decides every status change."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from pipeline.db import state
from pipeline.db.connect import current_revision, open_state_db
from pipeline.db.schema import documents, events, metadata
from pipeline.db.state import DocStatus
from pipeline.errors import StateError


@pytest.fixture
def db(db_urls: tuple[str, str]):
    eng = open_state_db(db_urls[0])
    yield eng
    eng.dispose()


def _doc(conn, status: str = DocStatus.RECEIVED, sha: str = "ab" * 32) -> int:
    return int(
        state.create(
            conn,
            "document",
            status,
            {
                "sha256": sha,
                "size": 1,
                "kind": "pdf",
                "source": "a.pdf",
                "inbox": "/in",
                "source_removed": False,
                "stored": f"{sha}.pdf",
                "attempts": 0,
            },
        )
    )


def test_migrations_build_exactly_the_declared_tables(db):
    assert current_revision(db) == "0003"
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    open_state_db(str(db.url.render_as_string(hide_password=False))).dispose()  # idempotent


def test_allowed_changes_and_their_events(db):
    with db.begin() as conn:
        d = _doc(conn)
        state.move(conn, "document", d, DocStatus.PROCESSING)
        state.move(conn, "document", d, DocStatus.PROCESSED, values={"pages": 2})
    with db.connect() as conn:
        row = conn.execute(select(documents).where(documents.c.id == d)).one()
        log = conn.execute(
            select(events.c.action, events.c.before, events.c.after)
            .where(events.c.entity_id == str(d))
            .order_by(events.c.id)
        ).all()
    assert (row.status, row.pages, row.version) == ("processed", 2, 3)
    assert [tuple(e) for e in log] == [
        ("created", None, "received"),
        ("status", "received", "processing"),
        ("status", "processing", "processed"),
    ]


def test_refused_changes_leave_everything_as_it_was(db):
    with db.begin() as conn:
        d = _doc(conn)
    with pytest.raises(StateError, match="cannot become processed"), db.begin() as conn:
        state.move(conn, "document", d, DocStatus.PROCESSED)
    with pytest.raises(StateError, match="cannot start as"), db.begin() as conn:
        _doc(conn, DocStatus.PROCESSED, sha="cd" * 32)
    with pytest.raises(StateError, match="no document"), db.begin() as conn:
        state.move(conn, "document", 999, DocStatus.PROCESSING)
    with db.connect() as conn:
        assert conn.execute(select(documents.c.status)).scalars().all() == ["received"]


def test_a_stale_version_loses(db):
    with db.begin() as conn:
        d = _doc(conn)
        seen = conn.execute(select(documents.c.version).where(documents.c.id == d)).scalar()
        state.move(conn, "document", d, DocStatus.PROCESSING)  # someone else was first
    with pytest.raises(StateError, match="changed by someone else"), db.begin() as conn:
        state.move(conn, "document", d, DocStatus.FAILED, version=seen)


def test_one_stored_document_per_content(db):
    from sqlalchemy.exc import IntegrityError

    with db.begin() as conn:
        _doc(conn)
    with pytest.raises(IntegrityError), db.begin() as conn:
        _doc(conn)


def test_every_transition_is_declared():
    assert state.allowed("document", "received", "processing")
    assert not state.allowed("document", "duplicate", "received")
    assert state.allowed("document", "processed", "received")  # a template assigned
    assert state.allowed("record", "needs_review", "accepted")
    assert not state.allowed("record", "delivered", "accepted")
    assert state.allowed("delivery", "failed", "pending")
