"""Small Protocols the stages depend on; adapters implement them (see ``compose``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pipeline.records import Gray, Record


@dataclass(frozen=True)
class OcrHints:
    """What the template knows about a field, passed to the engine with the crop."""

    lang: str
    whitelist: str | None = None
    single_line: bool = True


@dataclass(frozen=True)
class OcrResult:
    text: str
    # 0..1: the weakest character's confidence (a single bad glyph makes a wrong field).
    confidence: float


class OcrEngine(Protocol):
    name: str

    def read(self, image: Gray, hints: OcrHints) -> OcrResult:
        """Read a cleaned, cropped field image (dark ink on white)."""
        ...

    def close(self) -> None: ...


class RecordStore(Protocol):
    def save(self, record: Record) -> None:
        """Insert or replace the record under ``record.key`` (idempotent)."""
        ...

    def close(self) -> None: ...
