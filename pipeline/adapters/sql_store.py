"""Record store on SQLAlchemy Core: SQLite by default, PostgreSQL by URL.

One row per record, keyed by ``Record.key`` (file hash + first page), so processing the
same file again replaces its records instead of adding new ones.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from pipeline.errors import StoreError
from pipeline.records import Record

metadata = MetaData()

records = Table(
    "records",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("file", Text, nullable=False),
    Column("sha256", String(64), index=True),
    Column("status", String(20), nullable=False, index=True),
    Column("template_id", String(100)),
    Column("template_version", Integer),
    Column("pages", JSON, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("issues", JSON, nullable=False),
    Column("reason", String(50)),
    Column("message", Text),
    Column("stored_at", DateTime(timezone=True), nullable=False),
)


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class SqlRecordStore:
    def __init__(self, url: str):
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._engine: Engine = create_engine(url)
            if url.startswith("sqlite"):
                event.listen(self._engine, "connect", _sqlite_pragmas)
            metadata.create_all(self._engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the database {url!r}: {exc}") from None

    def save(self, record: Record) -> None:
        row = record.to_json()
        try:
            with self._engine.begin() as conn:
                conn.execute(delete(records).where(records.c.key == record.key))
                conn.execute(
                    insert(records).values(
                        key=record.key,
                        file=record.file,
                        sha256=record.sha256,
                        status=record.status.value,
                        template_id=record.template_id,
                        template_version=record.template_version,
                        pages=list(record.pages),
                        fields=json.loads(json.dumps(row["fields"])),
                        issues=list(record.issues),
                        reason=record.reason,
                        message=record.message,
                        stored_at=dt.datetime.now(dt.UTC),
                    )
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store record {record.key}: {exc}") from None

    def close(self) -> None:
        self._engine.dispose()
