"""Sign-in throttle per user name and client; free-text reasons in events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sign_in_throttle",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("client", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("blocked_until", TS),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_sign_in_throttle_updated_at", "sign_in_throttle", ["updated_at"])
    # An operator's reason (for an override, for rejecting a record) is longer than a
    # code. (SQLite copies the table once for this.)
    with op.batch_alter_table("events") as b:
        b.alter_column("reason", type_=sa.Text, existing_type=sa.String(50))


def downgrade() -> None:
    with op.batch_alter_table("events") as b:
        b.alter_column("reason", type_=sa.String(50), existing_type=sa.Text)
    op.drop_index("ix_sign_in_throttle_updated_at", "sign_in_throttle")
    op.drop_table("sign_in_throttle")
