"""State tables: documents, records, deliveries (outbox), events.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

A migration is a snapshot: it spells the tables out instead of importing
``pipeline.db.schema``, which moves on with later revisions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(8)),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("inbox", sa.Text, nullable=False),
        sa.Column("source_removed", sa.Boolean, nullable=False),
        sa.Column("stored", sa.Text),
        sa.Column("quarantined", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("duplicate_of", sa.Integer, sa.ForeignKey("documents.id")),
        sa.Column("reason", sa.String(50)),
        sa.Column("message", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("pages", sa.Integer),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("processed_at", TS),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_documents_status", "documents", ["status"])
    op.create_index("ix_documents_sha256", "documents", ["sha256"])
    stored_once = sa.text("stored IS NOT NULL AND duplicate_of IS NULL")
    op.create_index(
        "uq_documents_stored_sha256",
        "documents",
        ["sha256"],
        unique=True,
        sqlite_where=stored_once,
        postgresql_where=stored_once,
    )
    op.create_table(
        "records",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("document_id", sa.Integer, sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("template_id", sa.String(100)),
        sa.Column("template_version", sa.Integer),
        sa.Column("pages", sa.JSON, nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("issues", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("accepted_at", TS),
        sa.Column("delivered_at", TS),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_records_status", "records", ["status"])
    op.create_index("ix_records_document_id", "records", ["document_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_key", sa.String(200), sa.ForeignKey("records.key"), nullable=False),
        sa.Column("target", sa.String(40), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("reason", sa.String(50)),
        sa.Column("message", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("delivered_at", TS),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("record_key", "target", name="uq_deliveries_record_target"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
        sa.Column("field", sa.String(100)),
        sa.Column("reason", sa.String(50)),
    )
    op.create_index("ix_events_entity", "events", ["entity", "entity_id"])
    op.create_index("ix_events_at", "events", ["at"])


def downgrade() -> None:
    for table in ("events", "deliveries", "records", "documents"):
        op.drop_table(table)
