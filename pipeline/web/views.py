"""What the UI pages show, read from the state database: the queue, a record's cards,
its history, the unidentified and quarantined lists and the dashboard figures. Plain
queries and plain dataclasses; no HTML here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from pipeline.db import state
from pipeline.db.schema import documents, events, records
from pipeline.db.state import DocStatus, RecordStatus
from pipeline.rules import ISSUE_TEXT
from pipeline.stages.review import RECORD_ISSUES, as_text
from pipeline.templates.schema import TemplateSpec


def issue_words(codes: list[str] | tuple[str, ...]) -> list[str]:
    return [ISSUE_TEXT.get(c, c.replace("_", " ")) for c in codes]


@dataclass(frozen=True)
class QueueItem:
    key: str
    form: str
    source: str
    received_at: dt.datetime
    flagged: int
    claimed_by: str | None


def queue(db: Engine, form: str | None = None, limit: int = 200) -> list[QueueItem]:
    q = (
        select(
            records.c.key,
            records.c.template_id,
            records.c.fields,
            records.c.issues,
            records.c.claimed_by,
            documents.c.source,
            documents.c.received_at,
        )
        .join(documents, documents.c.id == records.c.document_id)
        .where(records.c.status == RecordStatus.NEEDS_REVIEW)
        .order_by(documents.c.received_at, records.c.key)
        .limit(limit)
    )
    if form:
        q = q.where(records.c.template_id == form)
    with db.connect() as conn:
        rows = conn.execute(q).all()
    return [
        QueueItem(
            r.key,
            r.template_id or "-",
            r.source,
            state.utc(r.received_at),
            sum(1 for f in r.fields.values() if f.get("needs_review")) + (1 if r.issues else 0),
            r.claimed_by,
        )
        for r in rows
    ]


def queue_forms(db: Engine) -> list[str]:
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


def next_key(db: Engine, me: str, form: str | None, after: str | None = None) -> str | None:
    """The oldest record to review that nobody else has open; else the oldest at all."""
    items = [i for i in queue(db, form) if i.key != after]
    free = [i for i in items if i.claimed_by in (None, me)]
    pick = free or items
    return pick[0].key if pick else None


@dataclass(frozen=True)
class Card:
    name: str
    label: str
    type: str
    text: str
    value: Any
    confidence: float
    issues: list[str]
    crop: bool
    open: bool  # still needs the operator
    reviewed_by: str | None = None
    override_reason: str | None = None
    page: int = 1
    box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class RecordView:
    key: str
    status: str
    version: int
    form: str | None
    form_title: str
    form_version: int | None
    source: str
    document_id: int
    received_at: dt.datetime
    issues: list[str]
    cards: list[Card]  # flagged first (in template order), then the rest
    pages: list[tuple[int, float, float]]  # (template page, width pt, height pt) with preview
    claimed_by: str | None
    claimed_at: dt.datetime | None
    history: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def open_cards(self) -> list[Card]:
        return [c for c in self.cards if c.open]


def record_view(db: Engine, key: str, spec: TemplateSpec | None) -> RecordView | None:
    with db.connect() as conn:
        r = conn.execute(
            select(records, documents.c.source, documents.c.received_at)
            .join(documents, documents.c.id == records.c.document_id)
            .where(records.c.key == key)
        ).one_or_none()
        if r is None:
            return None
        hist = conn.execute(
            select(events)
            .where(events.c.entity == "record", events.c.entity_id == key)
            .order_by(events.c.id)
        ).all()
    order = {f.name: i for i, f in enumerate(spec.fields)} if spec else {}
    specs = {f.name: f for f in spec.fields} if spec else {}
    cards = []
    for name, f in sorted(r.fields.items(), key=lambda kv: order.get(kv[0], 10_000)):
        s = specs.get(name)
        cards.append(
            Card(
                name=name,
                label=(s.label if s and s.label else name),
                type=s.type if s else "text",
                text=as_text(f["value"]) if f.get("reviewed_by") else f.get("text", ""),
                value=f["value"],
                confidence=float(f.get("confidence", 0)),
                issues=issue_words(f.get("issues", [])),
                crop=bool(f.get("crop")),
                open=bool(f.get("needs_review")) and r.status == RecordStatus.NEEDS_REVIEW,
                reviewed_by=f.get("reviewed_by"),
                override_reason=f.get("override_reason"),
                page=s.page if s else 1,
                box=s.region if s else None,
            )
        )
    if r.issues:
        cards.insert(
            0,
            Card(
                RECORD_ISSUES,
                "The whole record",
                "record",
                "",
                None,
                1.0,
                issue_words(r.issues),
                False,
                r.status == RecordStatus.NEEDS_REVIEW,
            ),
        )
    cards.sort(key=lambda c: not c.open)  # stable: flagged first, template order kept
    previews = r.previews or {}
    pages = [
        (p.number, p.width, p.height)
        for p in (spec.pages if spec else ())
        if str(p.number) in previews
    ]
    return RecordView(
        key=r.key,
        status=r.status,
        version=r.version,
        form=r.template_id,
        form_title=spec.title if spec and spec.title else (r.template_id or "unidentified"),
        form_version=r.template_version,
        source=r.source,
        document_id=r.document_id,
        received_at=state.utc(r.received_at),
        issues=issue_words(r.issues),
        cards=cards,
        pages=pages,
        claimed_by=r.claimed_by,
        claimed_at=state.utc(r.claimed_at),
        history=[{**h._mapping, "at": state.utc(h.at)} for h in hist],
    )


def claim(db: Engine, key: str, who: str) -> None:
    """Note who has the record open (shown to others; not a lock, writes are versioned)."""
    with db.begin() as conn:
        conn.execute(
            records.update()
            .where(records.c.key == key)
            .values(claimed_by=who, claimed_at=state.now())
        )


@dataclass(frozen=True)
class DocItem:
    document_id: int
    source: str
    status: str
    reason: str | None
    message: str | None
    at: dt.datetime
    record_key: str | None = None
    pages: list[int] = field(default_factory=list)


def unidentified(db: Engine) -> list[DocItem]:
    with db.connect() as conn:
        rows = conn.execute(
            select(
                records.c.key,
                records.c.pages,
                records.c.issues,
                documents.c.id,
                documents.c.source,
                documents.c.received_at,
                documents.c.template_hint,
            )
            .join(documents, documents.c.id == records.c.document_id)
            .where(records.c.status == RecordStatus.UNIDENTIFIED)
            .order_by(documents.c.received_at)
        ).all()
    return [
        DocItem(
            r.id,
            r.source,
            "unidentified",
            ", ".join(r.issues),
            ", ".join(issue_words(r.issues)),
            state.utc(r.received_at),
            r.key,
            list(r.pages),
        )
        for r in rows
    ]


def quarantined(db: Engine) -> list[DocItem]:
    with db.connect() as conn:
        rows = conn.execute(
            select(documents)
            .where(documents.c.status.in_([DocStatus.QUARANTINED, DocStatus.FAILED]))
            .order_by(documents.c.updated_at.desc())
        ).all()
    return [
        DocItem(r.id, r.source, r.status, r.reason, r.message, state.utc(r.updated_at))
        for r in rows
    ]


@dataclass(frozen=True)
class Dashboard:
    documents_today: dict[str, int]
    records_today: int
    straight_through: int
    queue_size: int
    oldest_waiting: dt.datetime | None
    failures: dict[str, int]
    deliveries_failed: int

    @property
    def straight_through_pct(self) -> float | None:
        return 100.0 * self.straight_through / self.records_today if self.records_today else None


def dashboard(db: Engine, today_start: dt.datetime) -> Dashboard:
    from pipeline.db.schema import deliveries

    with db.connect() as conn:
        docs: dict[Any, Any] = dict(
            conn.execute(
                select(documents.c.status, func.count())
                .where(documents.c.received_at >= today_start)
                .group_by(documents.c.status)
            ).all()
        )
        created: dict[Any, Any] = dict(
            conn.execute(
                select(events.c.after, func.count())
                .where(
                    events.c.entity == "record",
                    events.c.action == "created",
                    events.c.at >= today_start,
                )
                .group_by(events.c.after)
            ).all()
        )
        waiting = conn.execute(
            select(func.count(), func.min(records.c.created_at)).where(
                records.c.status == RecordStatus.NEEDS_REVIEW
            )
        ).one()
        failures: dict[Any, Any] = dict(
            conn.execute(
                select(documents.c.reason, func.count())
                .where(documents.c.status.in_([DocStatus.FAILED, DocStatus.QUARANTINED]))
                .group_by(documents.c.reason)
            ).all()
        )
        dfail = conn.execute(
            select(func.count()).where(deliveries.c.status == "failed")
        ).scalar_one()
    identified = created.get("accepted", 0) + created.get("needs_review", 0)
    return Dashboard(
        documents_today={str(k): int(v) for k, v in sorted(docs.items())},
        records_today=int(identified),
        straight_through=int(created.get("accepted", 0)),
        queue_size=int(waiting[0]),
        oldest_waiting=state.utc(waiting[1]),
        failures={str(k): int(v) for k, v in sorted(failures.items(), key=lambda kv: -kv[1])},
        deliveries_failed=int(dfail),
    )
