"""Small Protocols the stages depend on; adapters implement them (see ``compose``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pipeline.records import Gray, Record, StoredDocument, StoredRecord


@dataclass(frozen=True)
class OcrHints:
    """What the template knows about a field, passed to the engine with the crop."""

    lang: str
    whitelist: str | None = None
    single_line: bool = True
    # A second opinion: read another way (another page segmentation) than the first time.
    second: bool = False


@dataclass(frozen=True)
class OcrResult:
    text: str
    # 0..1: the weakest character's confidence (a single bad glyph makes a wrong field).
    confidence: float
    # 0..1: the mean character confidence, where the engine gives one.
    mean_confidence: float | None = None


class OcrEngine(Protocol):
    name: str

    def read(self, image: Gray, hints: OcrHints) -> OcrResult:
        """Read a cleaned, cropped field image (dark ink on white)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Staged:
    """A file copied into the store's scratch area, hashed and synced, not yet kept."""

    tmp: Path
    sha256: str
    size: int


class OriginalStore(Protocol):
    """Where the bytes of every ingested file are kept, by content (SHA-256)."""

    def stage(self, src: Path) -> Staged:
        """Copy ``src`` in, hashing it on the way; durable once this returns."""
        ...

    def keep(self, staged: Staged, suffix: str) -> str:
        """Make a staged file permanent under its hash; returns its reference."""
        ...

    def discard(self, staged: Staged) -> None: ...

    def path(self, ref: str) -> Path:
        """A local path to read the kept file from."""
        ...

    def sweep_scratch(self) -> int:
        """Remove staged copies an interrupted intake left; returns how many."""
        ...


@dataclass(frozen=True)
class Job:
    """One document for a worker: where its bytes are and what to call it."""

    document_id: int
    path: Path
    source: str
    template_hint: str | None = None  # assigned by an operator to an unidentified document


@dataclass(frozen=True)
class Outcome:
    """What a worker made of a document: records, or the reason it could not."""

    document_id: int
    records: tuple[Record, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    # True: the file itself is bad (quarantine it); False: the run failed (retry later).
    bad_input: bool = False
    seconds: float = 0.0


@dataclass(frozen=True)
class Crashed:
    """The worker running a document died (killed, out of memory, segfault)."""

    document_id: int


class Dispatcher(Protocol):
    """Runs jobs somewhere (a local process pool) and hands back their outcomes."""

    workers: int

    def capacity(self) -> int:
        """How many more jobs it takes now."""
        ...

    def submit(self, job: Job) -> None: ...

    def collect(self) -> list[Outcome | Crashed]:
        """Outcomes finished since the last call (never blocks)."""
        ...

    def in_flight(self) -> int: ...

    def close(self) -> None:
        """Wait for the jobs in hand, then stop the workers."""
        ...


@dataclass(frozen=True)
class Parcel:
    """A record ready for a case system, with its own pages of the scan it came from
    (``original``, a file of those pages only, named ``original_name``)."""

    idempotency_key: str
    record: StoredRecord
    document: StoredDocument
    payload: Mapping[str, Any]  # the delivery JSON (schema_version, record, document)
    original: Path
    original_name: str


class CaseTarget(Protocol):
    """A case system records are delivered to. ``send`` must be idempotent per key:
    sending a parcel whose key the target already has is a no-op, not a second case."""

    name: str

    def send(self, parcel: Parcel) -> None:
        """Deliver; raise TargetUnavailable (retry later) or TargetRejected (needs a fix)."""
        ...

    def close(self) -> None: ...
