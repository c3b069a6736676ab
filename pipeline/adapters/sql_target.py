"""Case target: tables in a SQL case database (SQLite file by default, PostgreSQL by URL).

``blankett_cases`` holds one row per delivered record, keyed by its idempotency key,
``blankett_case_fields`` one row per field and ``blankett_case_files`` the record's own
pages of the scan (the whole file only when it is the scan's one record). All rows go
in one transaction; a parcel whose key is already there is a no-op, so a re-delivery
never makes a second case. Only our own key means "already there": any other constraint
of the case database that refuses the row is a visible delivery failure. The target
creates its tables when they are missing (it owns nothing else in that database).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from pipeline.db.connect import engine_for
from pipeline.errors import StoreError, TargetRejected, TargetUnavailable
from pipeline.ports import Parcel

metadata = MetaData()

cases = Table(
    "blankett_cases",
    metadata,
    Column("idempotency_key", String(64), primary_key=True),
    Column("record_key", String(200), nullable=False),
    Column("form_id", String(100)),
    Column("form_version", Integer),
    Column("source", Text, nullable=False),
    Column("document_sha256", String(64), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("record", Text, nullable=False),  # the delivery JSON
    Column("delivered_at", DateTime(timezone=True), nullable=False),
)

case_fields = Table(
    "blankett_case_fields",
    metadata,
    Column(
        "idempotency_key",
        String(64),
        ForeignKey("blankett_cases.idempotency_key"),
        primary_key=True,
    ),
    Column("name", String(200), primary_key=True),
    Column("value", Text),
    Column("confidence", Float),
)

case_files = Table(
    "blankett_case_files",
    metadata,
    Column(
        "idempotency_key",
        String(64),
        ForeignKey("blankett_cases.idempotency_key"),
        primary_key=True,
    ),
    Column("name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
)


class SqlCaseTarget:
    def __init__(self, name: str, url: str):
        self.name = name
        self._url = url
        self._engine = engine_for(url)
        self._ready = False

    def send(self, parcel: Parcel) -> None:
        rec, doc = parcel.record, parcel.document
        try:
            self._ensure_tables()
            with self._engine.begin() as conn:
                have = conn.execute(
                    select(cases.c.idempotency_key).where(
                        cases.c.idempotency_key == parcel.idempotency_key
                    )
                ).first()
                if have is not None:
                    return  # delivered before; the key makes this a no-op
                content = parcel.original.read_bytes()
                conn.execute(
                    insert(cases).values(
                        idempotency_key=parcel.idempotency_key,
                        record_key=rec.key,
                        form_id=rec.template_id,
                        form_version=rec.template_version,
                        source=doc.source,
                        document_sha256=doc.sha256,
                        schema_version=parcel.payload["schema_version"],
                        record=json.dumps(parcel.payload, ensure_ascii=False),
                        delivered_at=dt.datetime.now(dt.UTC),
                    )
                )
                rows = [
                    {
                        "idempotency_key": parcel.idempotency_key,
                        "name": f.name,
                        "value": None if f.value is None else str(f.value),
                        "confidence": round(f.confidence, 3),
                    }
                    for f in rec.fields
                ]
                if rows:
                    conn.execute(insert(case_fields), rows)
                conn.execute(
                    insert(case_files).values(
                        idempotency_key=parcel.idempotency_key,
                        name=parcel.original_name,
                        sha256=hashlib.sha256(content).hexdigest(),
                        size=len(content),
                        content=content,
                    )
                )
        except IntegrityError as exc:
            ours = self._has(parcel.idempotency_key)
            if ours:
                return  # a concurrent send of the same key won; same outcome
            if ours is None:
                raise TargetUnavailable(f"case database unavailable: {_short(exc)}") from None
            raise TargetRejected(f"case database refused the record: {_short(exc)}") from None
        except (OperationalError, StoreError) as exc:
            raise TargetUnavailable(f"case database unavailable: {_short(exc)}") from None
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise TargetUnavailable(f"case database connection lost: {_short(exc)}") from None
            raise TargetRejected(f"case database refused the record: {_short(exc)}") from None
        except SQLAlchemyError as exc:
            raise TargetRejected(f"case database refused the record: {_short(exc)}") from None

    def _has(self, key: str) -> bool | None:
        """Whether our own key is there (after a constraint refused a row); None when the
        database cannot say now (a retry decides)."""
        try:
            with self._engine.connect() as conn:
                found = conn.execute(
                    select(cases.c.idempotency_key).where(cases.c.idempotency_key == key)
                ).first()
        except SQLAlchemyError:
            return None
        return found is not None

    def _ensure_tables(self) -> None:
        if not self._ready:
            metadata.create_all(self._engine)
            self._ready = True

    def close(self) -> None:
        self._engine.dispose()


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]
