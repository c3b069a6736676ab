"""What the review UI does to the state database, one operation per action.

Each operation is one transaction: load the stored record, let the pure review stage
(``pipeline.stages.review``) work out the change, save it under the version the operator
saw (a record changed since is refused with ``StateError``, never overwritten), audit it,
and when nothing is left for a person, accept the record and write its outbox rows.

Reading personal data is audited too: opening a record, a field's crop, a page image or a
page of an original writes one ``events`` row (who, what, when; never a value) in the
transaction that reads it (actions in ``READS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from pipeline.db import records as stored
from pipeline.db import state
from pipeline.db.schema import records
from pipeline.db.state import DocStatus
from pipeline.errors import StateError
from pipeline.records import RecordStatus, StoredDocument, StoredField, StoredRecord
from pipeline.service.ops import history
from pipeline.service.outbox import enqueue
from pipeline.stages.review import Edit, apply_edit
from pipeline.stages.review import reject as reject_record
from pipeline.templates.schema import TemplateSpec

# Events that record a read, not a change (the record page's history leaves them out).
READS = frozenset({"viewed", "viewed_crop", "viewed_page"})


@dataclass(frozen=True)
class EditResult:
    version: int
    # Issues the value still has; set when nothing was saved (an override is needed).
    refused: tuple[str, ...] = ()
    accepted: bool = False
    field: StoredField | None = None


def edit_field(
    db: Engine,
    key: str,
    version: int,
    edit: Edit,
    spec_for: Callable[[str | None, int | None], TemplateSpec | None],
    actor: str,
    targets: tuple[str, ...],
) -> EditResult:
    """``spec_for(form id, version)`` gives the template of the record as loaded."""
    with db.begin() as conn:
        rec = stored.load(conn, key)
        if rec is None:
            raise StateError(f"no record {key}")
        if rec.version != version:
            raise StateError(
                f"record {key} was changed by someone else (now version {rec.version})"
            )
        spec = spec_for(rec.template_id, rec.template_version)
        applied = apply_edit(rec, edit, spec, actor, state.now())
        if applied.refused:
            return EditResult(rec.version, refused=applied.refused)
        saved = stored.save(conn, applied.record, applied.events)
        if not applied.done:
            return EditResult(saved.version, field=applied.changed)
        state.move(
            conn,
            "record",
            key,
            RecordStatus.ACCEPTED,
            actor=actor,
            version=saved.version,
            values={"accepted_at": state.now()},
        )
        enqueue(conn, key, targets)
        return EditResult(saved.version + 1, accepted=True, field=applied.changed)


def open_record(
    db: Engine, key: str
) -> tuple[StoredRecord, StoredDocument, list[dict[str, Any]]] | None:
    """A record, its document and its history (oldest event first), for the record page."""
    with db.connect() as conn:
        got = stored.load_with_document(conn, key)
    if got is None:
        return None
    return got[0], got[1], history(db, "record", key)


def view_record(
    db: Engine, key: str, viewer: str
) -> tuple[StoredRecord, StoredDocument, list[dict[str, Any]]] | None:
    """``open_record`` for a person who opens it: audited, and a record in review is
    claimed (the record returned still names the claim from before)."""
    with db.begin() as conn:
        got = stored.load_with_document(conn, key)
        if got is None:
            return None
        state.log_event(conn, "record", key, "viewed", actor=viewer)
        if got[0].status is RecordStatus.NEEDS_REVIEW:
            stored.claim(conn, key, viewer)
    return got[0], got[1], history(db, "record", key)


def field_crop(db: Engine, key: str, name: str, viewer: str) -> str | None:
    """The crop of one field (its path), for ``viewer``: audited."""
    with db.begin() as conn:
        rec = stored.load(conn, key)
        f = rec.find(name) if rec else None
        if f is None or not f.crop:
            return None
        state.log_event(conn, "record", key, "viewed_crop", actor=viewer, field=name)
        return f.crop


def page_preview(db: Engine, key: str, page: int, viewer: str) -> str | None:
    """A record's page as aligned to its template (its path), for ``viewer``: audited."""
    with db.begin() as conn:
        rec = stored.load(conn, key)
        path = rec.previews.get(page) if rec else None
        if not path:
            return None
        state.log_event(conn, "record", key, "viewed_page", actor=viewer, field=f"page {page}")
        return path


def original_page(db: Engine, doc_id: int, page: int, viewer: str) -> StoredDocument | None:
    """The document whose page ``viewer`` is about to see as scanned: audited."""
    with db.begin() as conn:
        doc = stored.load_document(conn, doc_id)
        if doc is None or not doc.stored:
            return None
        state.log_event(conn, "document", doc_id, "viewed_page", actor=viewer, field=f"page {page}")
        return doc


def find_key(db: Engine, shown: str) -> str:
    """The record key for one as people see it: whole, or shortened as ``records`` shows
    it (``1a2b3c4d5e6f:1``)."""
    sha, _, page = shown.strip().partition(":")
    # At least as long as `records` shows it: a typo in a short prefix must not pick,
    # and reject for good, some other record that happens to start the same way.
    if len(sha) < 12 or not page.isdigit() or any(c not in "0123456789abcdef" for c in sha):
        raise StateError(f"{shown!r} is not a record key (like 1a2b3c4d5e6f:1)")
    with db.connect() as conn:
        keys = (
            conn.execute(select(records.c.key).where(records.c.key.like(f"{sha}%:{page}")))
            .scalars()
            .all()
        )
    if len(keys) != 1:
        raise StateError(f"{'no' if not keys else 'more than one'} record {shown}")
    return str(keys[0])


def reject(db: Engine, key: str, reason: str, actor: str) -> RecordStatus:
    """Reject a record in review or an unidentified one, for good, with a reason; returns
    the status it had. No version is asked for: the decision is about the whole record,
    not the values someone saw, and a record accepted meanwhile is refused by the move."""
    with db.begin() as conn:
        rec = stored.load(conn, key)
        if rec is None:
            raise StateError(f"no record {key}")
        applied = reject_record(rec, reason, actor)
        (event,) = applied.events
        state.move(
            conn,
            "record",
            key,
            applied.record.status,
            actor=event.actor,
            version=rec.version,
            reason=event.reason,
            values={"claimed_by": None, "claimed_at": None},
        )
        return rec.status


def assign_template(db: Engine, doc_id: int, template: str, actor: str) -> None:
    """An admin says which form an unidentified document is: its unidentified records go
    and the document is read again with that template tried first."""
    with db.begin() as conn:
        keys = [
            rec.key
            for rec, _ in stored.listed(conn, [RecordStatus.UNIDENTIFIED], document_id=doc_id)
        ]
        if not keys:
            raise StateError(f"document {doc_id} has no unidentified page")
        for k in keys:
            state.log_event(
                conn,
                "record",
                k,
                "removed",
                before="unidentified",
                actor=actor,
                reason=f"template {template} assigned",
            )
        conn.execute(delete(records).where(records.c.key.in_(keys)))
        state.move(
            conn,
            "document",
            doc_id,
            DocStatus.RECEIVED,
            actor=actor,
            reason="template_assigned",
            values={"template_hint": template, "attempts": 0},
        )


def waiting(
    db: Engine, form: str | None = None, limit: int = 200
) -> list[tuple[StoredRecord, StoredDocument]]:
    """Records that need a person, oldest received first."""
    with db.connect() as conn:
        return stored.listed(conn, [RecordStatus.NEEDS_REVIEW], form=form, limit=limit)


def waiting_forms(db: Engine) -> list[str]:
    with db.connect() as conn:
        return [
            str(f)
            for f in conn.execute(
                select(records.c.template_id)
                .where(records.c.status == RecordStatus.NEEDS_REVIEW)
                .distinct()
                .order_by(records.c.template_id)
            ).scalars()
            if f
        ]


def unidentified(db: Engine) -> list[tuple[StoredRecord, StoredDocument]]:
    with db.connect() as conn:
        return stored.listed(conn, [RecordStatus.UNIDENTIFIED])
