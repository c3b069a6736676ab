"""What the UI pages show, built from stored records: queue rows, a record's cards and
history, the unidentified and quarantined lists. Plain dataclasses from typed records;
no SQL and no HTML here (the queries are operations in ``pipeline.service``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import Config
from pipeline.issues import ISSUE_TEXT
from pipeline.records import RecordStatus, StoredDocument, StoredRecord
from pipeline.service.ops import FailedDocument
from pipeline.service.review import READS
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


def queue(rows: Sequence[tuple[StoredRecord, StoredDocument]]) -> list[QueueItem]:
    return [
        QueueItem(r.key, r.template_id or "-", d.source, d.received_at, r.flagged, r.claimed_by)
        for r, d in rows
    ]


def next_key(items: Sequence[QueueItem], me: str, after: str | None = None) -> str | None:
    """The oldest record to review that nobody else has open; else the oldest at all."""
    left = [i for i in items if i.key != after]
    free = [i for i in left if i.claimed_by in (None, me)]
    pick = free or left
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


def record_view(
    r: StoredRecord,
    doc: StoredDocument,
    history: Sequence[Mapping[str, Any]],
    spec: TemplateSpec | None,
) -> RecordView:
    order = {f.name: i for i, f in enumerate(spec.fields)} if spec else {}
    specs = {f.name: f for f in spec.fields} if spec else {}
    reviewing = r.status is RecordStatus.NEEDS_REVIEW
    cards = []
    for f in sorted(r.fields, key=lambda f: order.get(f.name, 10_000)):
        s = specs.get(f.name)
        cards.append(
            Card(
                name=f.name,
                label=(s.label if s and s.label else f.name),
                type=s.type if s else "text",
                text=as_text(f.value) if f.reviewed_by else f.text,
                value=f.value,
                confidence=f.confidence,
                issues=issue_words(f.issues),
                crop=bool(f.crop),
                open=f.needs_review and reviewing,
                reviewed_by=f.reviewed_by,
                override_reason=f.override_reason,
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
                reviewing,
            ),
        )
    cards.sort(key=lambda c: not c.open)  # stable: flagged first, template order kept
    pages = [
        (p.number, p.width, p.height)
        for p in (spec.pages if spec else ())
        if p.number in r.previews
    ]
    return RecordView(
        key=r.key,
        status=r.status,
        version=r.version,
        form=r.template_id,
        form_title=spec.title if spec and spec.title else (r.template_id or "unidentified"),
        form_version=r.template_version,
        source=doc.source,
        document_id=r.document_id,
        received_at=doc.received_at,
        issues=issue_words(r.issues),
        cards=cards,
        pages=pages,
        claimed_by=r.claimed_by,
        claimed_at=r.claimed_at,
        # Changes only: reads are audited in the events table, not shown to operators.
        history=[e for e in history if e.get("action") not in READS],
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


def unidentified(rows: Sequence[tuple[StoredRecord, StoredDocument]]) -> list[DocItem]:
    return [
        DocItem(
            d.id,
            d.source,
            "unidentified",
            ", ".join(r.issues),
            ", ".join(issue_words(r.issues)),
            d.received_at,
            r.key,
            list(r.pages),
        )
        for r, d in rows
    ]


def quarantined(rows: Sequence[FailedDocument]) -> list[DocItem]:
    return [DocItem(r.id, r.source, r.status, r.reason, r.message, r.at) for r in rows]


class NoSuchPage(LookupError):
    pass


def page_jpeg(path: Path, page: int, width: int, cfg: Config) -> bytes:
    """Page ``page`` of a stored original as a JPEG about ``width`` px wide (100..2000).
    Raises ``BlankettError`` for a file that cannot be read, ``NoSuchPage`` past its end.
    Only that page is made, one at a time per process (PDFium is not thread-safe), and
    kept in a bounded cache (``pipeline.pageimage``)."""
    from pipeline import pageimage

    try:
        return pageimage.page_jpeg(path, page, width, cfg)
    except pageimage.NoSuchPage as exc:
        raise NoSuchPage(str(exc)) from None
