"""Review UI: users, sessions; record previews and claims; template hints.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("documents") as b:
        b.add_column(sa.Column("template_hint", sa.String(100)))
    with op.batch_alter_table("records") as b:
        b.add_column(sa.Column("previews", sa.JSON))
        b.add_column(sa.Column("claimed_by", sa.String(100)))
        b.add_column(sa.Column("claimed_at", TS))
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sessions")
    op.drop_table("users")
    with op.batch_alter_table("records") as b:
        b.drop_column("claimed_at")
        b.drop_column("claimed_by")
        b.drop_column("previews")
    with op.batch_alter_table("documents") as b:
        b.drop_column("template_hint")
