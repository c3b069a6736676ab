"""Frozen records passed from stage to stage, in one direction.

Images inside records are NumPy arrays marked read-only, so a stage cannot change what an
earlier stage produced. ``Record.to_json`` is the output contract of ``blankett process``
(docs/cli.md); change it only together with that document and a schema note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


class Status(StrEnum):
    ACCEPTED = "accepted"
    NEEDS_REVIEW = "needs_review"
    UNIDENTIFIED = "unidentified"
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
class FieldReading:
    """What extraction saw in one field region, before rules."""

    name: str
    page: int  # template page
    text: str  # as read (checkbox: "X" or ""; choice: the options read)
    ink: float  # share of the box covered by ink left after form dropout
    inked: bool  # something was written or marked (text: OCR ran on it)
    confidence: float  # 0..1: the engine's, the mark's margin, or sureness it is empty
    crop: str | None = None  # path of the saved crop, for the operator


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

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "text": self.text,
            "confidence": round(self.confidence, 3),
            "needs_review": self.needs_review,
            "issues": list(self.issues),
        }


@dataclass(frozen=True)
class Record:
    """One form instance (or one unidentified page, or one failed file)."""

    file: str
    sha256: str | None
    status: Status
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
        if self.status is Status.FAILED:
            out["reason"] = self.reason
            out["message"] = self.message
        return out
