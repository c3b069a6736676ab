"""Tables of the state database (SQLAlchemy Core). Alembic migrations create them.

- ``documents``: one row per file taken from the inbox (also duplicates and quarantined
  files), with its status, where its bytes are kept and why it failed.
- ``records``: one row per form instance found in a document (or unidentified page).
- ``deliveries``: the outbox; one row per record and case target, written in the
  transaction that accepts the record.
- ``events``: every status change and every operator change (who, when, before, after).
- ``users`` and ``sessions``: the review UI's local accounts (argon2 hashes) and sign-ins.
- ``sign_in_throttle``: failed sign-ins per user name *and* client address, and until when
  that pair must wait (kept in the database: several web processes share it).

Every table with a status has a ``version`` column that each change increments, so a
change can be made conditional on what the changer saw (optimistic locking).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

documents = Table(
    "documents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(8)),
    # The file's path relative to its inbox folder, and that folder.
    Column("source", Text, nullable=False),
    Column("inbox", Text, nullable=False),
    # True once the inbox file is gone; a re-found file with this row's hash and source is
    # the same drop seen again after a crash, not a duplicate.
    Column("source_removed", Boolean, nullable=False, default=False),
    # Path of the bytes in the content-addressed store (None: quarantined at intake).
    Column("stored", Text),
    Column("quarantined", Text),
    Column("status", String(20), nullable=False),
    Column("duplicate_of", Integer, ForeignKey("documents.id")),
    Column("reason", String(50)),
    Column("message", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("pages", Integer),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("processed_at", DateTime(timezone=True)),
    # A template an operator assigned to an unidentified document, for its re-run.
    Column("template_hint", String(100)),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_documents_status", "status"),
    Index("ix_documents_sha256", "sha256"),
    # One stored document per content: the rest are duplicate links to it.
    Index(
        "uq_documents_stored_sha256",
        "sha256",
        unique=True,
        sqlite_where=Column("stored").isnot(None) & Column("duplicate_of").is_(None),
        postgresql_where=Column("stored").isnot(None) & Column("duplicate_of").is_(None),
    ),
)

records = Table(
    "records",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("document_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("template_id", String(100)),
    Column("template_version", Integer),
    Column("pages", JSON, nullable=False),
    # name -> {value, text, confidence, needs_review, issues, crop}
    Column("fields", JSON, nullable=False),
    Column("issues", JSON, nullable=False),
    # template page (as a string) -> the page aligned to the template, for operators
    Column("previews", JSON),
    # Who has the record open in the review screen (a notice to others, not a lock).
    Column("claimed_by", String(100)),
    Column("claimed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_records_status", "status"),
    Index("ix_records_document_id", "document_id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_key", String(200), ForeignKey("records.key"), nullable=False),
    Column("target", String(40), nullable=False),
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(50)),
    Column("message", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False, default=1),
    UniqueConstraint("record_key", "target", name="uq_deliveries_record_target"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("entity", String(20), nullable=False),  # document | record | delivery
    Column("entity_id", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("before", Text),
    Column("after", Text),
    Column("field", String(100)),
    # Text: operators type reasons (an override, a rejection); codes fit too.
    Column("reason", Text),
    Index("ix_events_entity", "entity", "entity_id"),
    Index("ix_events_at", "at"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(20), nullable=False),  # operator | admin
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    # SHA-256 of the cookie's random token: a copy of this table signs nobody in.
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

sign_in_throttle = Table(
    "sign_in_throttle",
    metadata,
    # The name as typed (known or not: a refusal must not tell which) and the client's
    # address; a stranger's failures never slow down the same name from another client.
    Column("name", String(200), primary_key=True),
    Column("client", String(64), primary_key=True),
    # Tries counted before their password is checked, so parallel tries cannot overtake it.
    Column("failures", Integer, nullable=False),
    Column("blocked_until", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_sign_in_throttle_updated_at", "updated_at"),
)
