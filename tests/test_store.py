"""The SQL record store on SQLite and on the PostgreSQL server of the machine."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from pipeline.adapters.sql_store import SqlRecordStore
from pipeline.records import FieldResult, Record, Status
from tests.conftest import postgres_url


def _record(value: str, status: Status = Status.ACCEPTED, sha: str = "ab" * 32) -> Record:
    return Record(
        file="inkorg/ansökan.pdf",
        sha256=sha,
        status=status,
        template_id="parkeringstillstand",
        template_version=1,
        pages=(1,),
        fields=(FieldResult("efternamn", value, value, 0.97, False),),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'records.sqlite3'}"
        return
    base = postgres_url()
    if base is None:
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not reachable")
    # A schema of its own per test run keeps runs apart on a shared server.
    schema = f"t_{uuid.uuid4().hex[:10]}"
    eng = create_engine(base)
    with eng.begin() as c:
        c.execute(text(f"create schema {schema}"))
    yield f"{base}?options=-csearch_path%3D{schema}"
    with eng.begin() as c:
        c.execute(text(f"drop schema {schema} cascade"))
    eng.dispose()


def test_save_is_idempotent_per_record_key(url: str):
    store = SqlRecordStore(url)
    try:
        store.save(_record("Öberg", Status.NEEDS_REVIEW))
        store.save(_record("Åkesson"))  # the same file processed again
        store.save(_record("Ek", sha="cd" * 32))
        eng = create_engine(url)
        with eng.connect() as c:
            rows = c.execute(text("select key, status, fields from records order by key")).all()
        eng.dispose()
    finally:
        store.close()
    assert len(rows) == 2
    fields = (
        rows[0].fields
        if isinstance(rows[0].fields, dict)
        else __import__("json").loads(rows[0].fields)
    )
    assert rows[0].status == "accepted"
    assert fields["efternamn"]["value"] == "Åkesson"


def test_unreachable_database_is_a_clear_error():
    from pipeline.errors import StoreError

    with pytest.raises(StoreError, match="cannot open the database"):
        SqlRecordStore("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
