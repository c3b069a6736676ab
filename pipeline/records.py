"""Frozen records passed from stage to stage, in one direction, and the record as stored.

Images inside records are NumPy arrays marked read-only, so a stage cannot change what an
earlier stage produced. ``Record.to_json`` is the output contract of ``blankett process``
(docs/cli.md); change it only together with that document and a schema note.

``StoredRecord`` / ``StoredField`` are a record as the service keeps it, typed from the
database row to the case system (``pipeline.db.records`` loads and saves them; the review
and deliver stages take and return them). They live here, not under ``db/``, because the
stages use them and no stage imports the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

Gray = NDArray[np.uint8]
FileKind = Literal["pdf", "tiff", "png", "jpeg"]


def frozen_image(img: Gray) -> Gray:
    """Mark an array read-only so later stages cannot change it in place."""
    img.flags.writeable = False
    return img


class RecordStatus(StrEnum):
    """The one record lifecycle.

    ``validate`` gives a new record ``accepted`` (every field sure and valid),
    ``needs_review`` or ``unidentified`` (a page no template fits); ``failed`` is only
    ``blankett process`` output for a file that could not be read, never stored. The
    service persists the record (``service.results``) and, for ``accepted``, writes its
    outbox rows in the same transaction. Review (``stages.review``) turns
    ``needs_review`` into ``accepted`` once no field or record issue is left, writing the
    outbox rows then. The outbox (``service.outbox``) marks the record ``delivered`` when
    every target has it. An operator may instead reject a ``needs_review`` or
    ``unidentified`` record with a reason (a junk page, the wrong form, a duplicate sent
    on paper twice): ``rejected`` is final and never delivered. An admin who assigns a
    template to an ``unidentified`` record removes it and the document is read again.
    ``pipeline.db.state`` enforces these moves.
    """

    NEEDS_REVIEW = "needs_review"
    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    UNIDENTIFIED = "unidentified"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True)
class Document:
    """One input file, read and hashed; ``data`` is the file's bytes."""

    path: Path
    sha256: str
    kind: FileKind
    data: bytes = field(repr=False)


@dataclass(frozen=True, eq=False)
class Page:
    """One page of a document as a grayscale raster at ``dpi``, as scanned (any way up)."""

    number: int  # 1-based page number within the file
    image: Gray = field(repr=False)
    dpi: float
    blank: bool
    source: Literal["rendered", "embedded", "raster"]


@dataclass(frozen=True)
class Identification:
    """Which template page a file page is; ``template_id`` None means unidentified."""

    page_number: int
    template_id: str | None
    template_version: int | None
    template_page: int | None
    score: float  # coverage (0..1) of the best candidate
    runner_up: float  # coverage of the next best candidate
    inliers: int  # feature inliers of the best candidate
    rotation: int  # 0/90/180/270, from the matched transform
    evidence: Literal["features", "barcode", "none"] = "features"
    # Another version of the same form page fitted about as well: the version is a guess.
    version_uncertain: bool = False


@dataclass(frozen=True, eq=False)
class Alignment:
    """Homography from reference pixels to page pixels (full resolution) and its quality."""

    homography: NDArray[np.float64] = field(repr=False)
    inliers: int
    matches: int
    rmse: float  # inlier reprojection error, full-resolution pixels
    quality: float  # 0..1, see stages.align.quality
    method: Literal["orb", "sift"]


@dataclass(frozen=True)
class Evidence:
    """What a reading's trust rests on: the features ``pipeline.calibration`` turns into
    the probability that the value is right (see docs/benchmarks.md, calibration)."""

    engine_min: float = 0.0  # the weakest character's engine confidence, 0..1
    engine_mean: float = 0.0  # the mean character confidence, 0..1
    chars: int = 0  # characters read
    overlap: float = 0.0  # share of the field's ink that met the form's print
    local_fit: float = 1.0  # how well the crop matched the reference locally (1: no print)
    page_quality: float = 1.0  # the page's alignment quality (see stages.align)
    words: int = 0  # words of three letters or more, looked up in the word list
    known: float = 0.0  # share of those words the word list has
    compound: float = 0.0  # share known only as compounds of listed words
    doubtful: float = 0.0  # share whose dot-and-ring variant is a listed word too
    restored: bool = False  # a lost dot or ring was put back from the word list
    agree: bool | None = None  # a second reading agreed (None: not read twice)
    second_min: float = 0.0  # the second reading's weakest character confidence
    ink_px: int = 0  # ink pixels in the box (a field read as empty)
    margin: float = 0.0  # marks: distance from the decision band, 0..1
    cut_off: bool = False  # the box's edge cut off the text's descenders (g reads as a)
    clipped: float = 0.0  # share of words that hang on a cut-off descender (unvouched)
    # Read by hand: the digit model read the comb cells (engine_min/_mean are its cells'
    # probabilities, agree: the second reader, PP-OCR, read the same, second_min: its
    # score).
    hand: bool = False
    # A hand reading's doubt its probabilities do not show (read_hand.HandReading.doubt),
    # or the second reader read another valid value.
    hand_doubt: bool = False


@dataclass(frozen=True)
class FieldReading:
    """What extraction saw in one field region, before rules."""

    name: str
    page: int  # template page
    text: str  # as read (checkbox: "X" or ""; choice: the options read)
    ink: float  # share of the box covered by ink left after form dropout
    inked: bool  # something was written or marked (text: OCR ran on it)
    confidence: float  # 0..1: the engine's, the mark's margin, or sureness it is empty
    crop: str | None = None  # path of the saved crop, for the operator
    evidence: Evidence | None = None


@dataclass(frozen=True)
class FieldResult:
    """A validated field: the normalized value, the confidence and the issues."""

    name: str
    value: str | bool | None
    text: str
    confidence: float
    needs_review: bool
    issues: tuple[str, ...] = ()
    crop: str | None = None
    # Not stored or delivered: kept for the benchmark and for fitting the calibration.
    evidence: Evidence | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return _reading_json(self.value, self.text, self.confidence, self.needs_review, self.issues)


def _reading_json(
    value: str | bool | None, text: str, confidence: float, review: bool, issues: tuple[str, ...]
) -> dict[str, Any]:
    """A field's reading as output and delivered (``FieldResult`` and ``StoredField``)."""
    return {
        "value": value,
        "text": text,
        "confidence": round(confidence, 3),
        "needs_review": review,
        "issues": list(issues),
    }


@dataclass(frozen=True)
class Record:
    """One form instance (or one unidentified page, or one failed file)."""

    file: str
    sha256: str | None
    status: RecordStatus
    template_id: str | None = None
    template_version: int | None = None
    pages: tuple[int, ...] = ()
    fields: tuple[FieldResult, ...] = ()
    issues: tuple[str, ...] = ()
    reason: str | None = None
    message: str | None = None
    # template page -> the page aligned to the template, for the operator (not in to_json)
    previews: tuple[tuple[int, str], ...] = ()

    @property
    def key(self) -> str:
        """Stable identity: the same file processed twice gives the same key."""
        first = self.pages[0] if self.pages else 0
        return f"{self.sha256 or self.file}:{first}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.file,
            "sha256": self.sha256,
            "status": self.status.value,
            "template": (
                {"id": self.template_id, "version": self.template_version}
                if self.template_id
                else None
            ),
            "pages": list(self.pages),
            "fields": {f.name: f.to_json() for f in self.fields},
            "issues": list(self.issues),
        }
        if self.status is RecordStatus.FAILED:
            out["reason"] = self.reason
            out["message"] = self.message
        return out


@dataclass(frozen=True)
class StoredField:
    """One field of a stored record: what was read, what it became, who confirmed it."""

    name: str
    value: str | bool | None
    text: str
    confidence: float
    needs_review: bool
    issues: tuple[str, ...] = ()
    crop: str | None = None  # path of the crop the operator sees; never delivered
    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = None
    # Issues an operator kept the value despite, and why.
    overridden: tuple[str, ...] = ()
    override_reason: str | None = None

    @classmethod
    def from_result(cls, f: FieldResult) -> StoredField:
        return cls(f.name, f.value, f.text, f.confidence, f.needs_review, f.issues, f.crop)

    def to_json(self) -> dict[str, Any]:
        """The field as delivered to case systems (no crop path)."""
        out = _reading_json(self.value, self.text, self.confidence, self.needs_review, self.issues)
        if self.reviewed_by is not None:
            out["reviewed_by"] = self.reviewed_by
            out["reviewed_at"] = self.reviewed_at.isoformat() if self.reviewed_at else None
        if self.overridden:
            out["overridden"] = list(self.overridden)
            out["override_reason"] = self.override_reason
        return out


@dataclass(frozen=True)
class StoredRecord:
    """A record as the service keeps it; ``version`` guards every change (optimistic)."""

    key: str
    document_id: int
    status: RecordStatus
    template_id: str | None
    template_version: int | None
    pages: tuple[int, ...]
    fields: tuple[StoredField, ...]  # in template order
    issues: tuple[str, ...] = ()  # record-level (missing pages, poor alignment, ...)
    previews: Mapping[int, str] = field(default_factory=dict)  # template page -> image
    version: int = 1
    claimed_by: str | None = None
    claimed_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None

    @classmethod
    def from_record(cls, rec: Record, document_id: int) -> StoredRecord:
        return cls(
            key=rec.key,
            document_id=document_id,
            status=rec.status,
            template_id=rec.template_id,
            template_version=rec.template_version,
            pages=rec.pages,
            fields=tuple(StoredField.from_result(f) for f in rec.fields),
            issues=rec.issues,
            previews=dict(rec.previews),
        )

    def find(self, name: str) -> StoredField | None:
        return next((f for f in self.fields if f.name == name), None)

    def values(self) -> dict[str, str | bool | None]:
        return {f.name: f.value for f in self.fields}

    @property
    def flagged(self) -> int:
        """How many things an operator still has to look at (record issues count as one)."""
        return sum(1 for f in self.fields if f.needs_review) + (1 if self.issues else 0)

    def with_field(self, new: StoredField) -> StoredRecord:
        return replace(self, fields=tuple(new if f.name == new.name else f for f in self.fields))


@dataclass(frozen=True)
class StoredDocument:
    """Where a stored record came from: the file as received."""

    id: int
    source: str  # the path relative to its inbox, as the scanner named it
    sha256: str
    size: int
    kind: str | None
    stored: str | None  # reference in the original store
    received_at: dt.datetime


@dataclass(frozen=True)
class AuditEvent:
    """One change to a record, for the audit trail: who did what to which field."""

    action: str  # confirmed | corrected | acknowledged | status | ...
    actor: str
    field: str | None = None
    before: str | None = None  # JSON of the old value
    after: str | None = None
    reason: str | None = None
