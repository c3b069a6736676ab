"""Fakes for the ports (``pipeline.ports``) and a builder of stored records, for tests.

``ScriptedEngine`` is an ``OcrEngine`` that answers from a script instead of Tesseract;
``RecordingTarget`` is a ``CaseTarget`` that keeps what it is sent, is idempotent per key
like a real one, and can be told to fail or to hang until released; ``make_record``
builds a stored record through the store (documents and records are created and moved by
``pipeline.db.state``, never patched in), so what a test reads back is what the service
would have written.

Fakes live here, under tests/, only: the pipeline never imports them.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from pipeline.db import records as stored
from pipeline.db import state
from pipeline.db.state import DocStatus
from pipeline.errors import EngineError, TargetRejected, TargetUnavailable
from pipeline.ports import OcrHints, OcrResult, OriginalStore, Parcel
from pipeline.records import Gray, RecordStatus, StoredField, StoredRecord

# -- OCR engine -------------------------------------------------------------------------

# What a script may give for one call: a reading, bare text (read with confidence 0.99),
# or an exception to raise.
Answer = OcrResult | str | BaseException
Script = Callable[[Gray, OcrHints], Answer] | Sequence[Answer] | Mapping[int, Answer]


class _Unset:
    pass


_UNSET = _Unset()


@dataclass(frozen=True)
class EngineCall:
    """One ``read``: its 1-based number, the hints and the crop's shape."""

    number: int
    hints: OcrHints
    shape: tuple[int, ...]


class ScriptedEngine:
    """An ``OcrEngine`` that returns scripted readings (no Tesseract).

    ``script`` is one of:

    - a callable ``(image, hints) -> answer``;
    - a sequence of answers, used in call order (calls past its end get ``default``);
    - a mapping of 1-based call number -> answer (other calls get ``default``);
    - None: every call gets ``default``.

    ``default`` is, unless given, an empty reading without a script and "fail the test"
    (AssertionError) with one, so an unexpected read does not pass unnoticed.

    An answer is an ``OcrResult``, a string (read as that text with confidence 0.99) or an
    exception, which is raised. ``fail_on`` injects errors by call number on top of the
    script, e.g. ``fail_on={3: EngineError("tesseract died")}``. Every call is kept in
    ``calls`` (``hints`` lists just the hints) for assertions.
    """

    def __init__(
        self,
        script: Script | None = None,
        *,
        default: Answer | _Unset | None = _UNSET,
        fail_on: Mapping[int, BaseException] | None = None,
        name: str = "scripted",
    ):
        self.name = name
        self.calls: list[EngineCall] = []
        self.closed = False
        if isinstance(default, _Unset):
            # No script: every field reads empty. A script: an unscripted call is an error.
            default = OcrResult("", 0.99) if script is None else None
        self._default: Answer | None = default
        self._fail_on = dict(fail_on or {})
        self._fn: Callable[[Gray, OcrHints], Answer] | None = None
        self._queue: deque[Answer] = deque()
        self._by_number: dict[int, Answer] = {}
        if callable(script):
            self._fn = script
        elif isinstance(script, Mapping):
            self._by_number = dict(script)
        elif script is not None:
            self._queue.extend(script)
        self._lock = threading.Lock()

    @property
    def hints(self) -> list[OcrHints]:
        return [c.hints for c in self.calls]

    def read(self, image: Gray, hints: OcrHints) -> OcrResult:
        with self._lock:
            if self.closed:
                raise EngineError("read after close")
            number = len(self.calls) + 1
            self.calls.append(EngineCall(number, hints, tuple(image.shape)))
            if number in self._fail_on:
                raise self._fail_on[number]
            answer = self._answer(number, image, hints)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, str):
            return OcrResult(answer, 0.99)
        return answer

    def _answer(self, number: int, image: Gray, hints: OcrHints) -> Answer:
        if self._fn is not None:
            return self._fn(image, hints)
        if self._queue:
            return self._queue.popleft()
        if number in self._by_number:
            return self._by_number[number]
        if self._default is None:
            raise AssertionError(f"ScriptedEngine: no answer scripted for call {number}")
        return self._default

    def close(self) -> None:
        self.closed = True


# -- case target ------------------------------------------------------------------------


class RecordingTarget:
    """A ``CaseTarget`` that keeps every parcel it is sent.

    ``sent`` has every send that got through (repeats included), ``cases`` the parcel
    that made each case, by idempotency key: a key it already has is a no-op, as at a real
    target. Failures are scripted: ``unavailable=n`` raises ``TargetUnavailable`` on the
    first n sends, ``rejected=True`` raises ``TargetRejected`` on every send (a string:
    with that message), ``fail_with(...)`` queues any exceptions for the next sends.

    Slow mode: with ``gate`` (a ``threading.Event``) each send sets ``entered`` and then
    waits for the gate before doing anything, so a test can hold the sender inside
    ``send``; after ``gate_timeout`` seconds it gives up with ``TargetUnavailable`` and
    sets ``timed_out`` (a test that forgot to open the gate ends rather than hangs).
    """

    def __init__(
        self,
        name: str = "t",
        *,
        unavailable: int = 0,
        rejected: bool | str = False,
        gate: threading.Event | None = None,
        gate_timeout: float = 30.0,
    ):
        self.name = name
        self.sent: list[Parcel] = []
        self.cases: dict[str, Parcel] = {}
        self.originals: dict[str, bytes] = {}  # idempotency key -> the original's bytes
        self.attempts = 0
        self.errors: list[BaseException] = []
        self.closed = False
        self.entered = threading.Event()
        self.timed_out = False
        self.gate = gate
        self.gate_timeout = gate_timeout
        self._failures: deque[BaseException] = deque(
            TargetUnavailable(f"{name} is down (scripted, {i + 1} of {unavailable})")
            for i in range(unavailable)
        )
        self._rejected = rejected
        self._lock = threading.Lock()

    def fail_with(self, *errors: BaseException) -> RecordingTarget:
        """Raise these on the next sends, one each, before anything else scripted."""
        with self._lock:
            self._failures.extendleft(reversed(errors))
        return self

    @property
    def keys(self) -> list[str]:
        return list(self.cases)

    def send(self, parcel: Parcel) -> None:
        with self._lock:
            self.attempts += 1
        self.entered.set()
        if self.gate is not None and not self.gate.wait(self.gate_timeout):
            self.timed_out = True
            raise self._error(TargetUnavailable(f"{self.name}: timed out (gate never opened)"))
        with self._lock:
            if self.closed:
                raise self._error(TargetUnavailable(f"{self.name} is closed"))
            if self._failures:
                raise self._error(self._failures.popleft())
            if self._rejected:
                msg = self._rejected if isinstance(self._rejected, str) else "rejected"
                raise self._error(TargetRejected(f"{self.name}: {msg} (scripted)"))
            self.sent.append(parcel)
            if parcel.idempotency_key in self.cases:
                return  # has it already: a repeat is a no-op
            # A real target copies the original; a missing one fails here as it would there.
            self.originals[parcel.idempotency_key] = parcel.original.read_bytes()
            self.cases[parcel.idempotency_key] = parcel

    def _error(self, exc: BaseException) -> BaseException:
        self.errors.append(exc)
        return exc

    def close(self) -> None:
        self.closed = True


# -- stored records ---------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """A field for ``make_record``; a bare value in ``fields`` is a sure, clean field."""

    value: str | bool | None
    confidence: float = 0.99
    needs_review: bool = False
    issues: tuple[str, ...] = ()
    text: str | None = None  # as read; default: the value as text

    def stored(self, name: str) -> StoredField:
        text = self.text
        if text is None:
            text = "" if self.value is None else ("X" if self.value is True else str(self.value))
            if self.value is False:
                text = ""
        return StoredField(
            name, self.value, text, self.confidence, self.needs_review, tuple(self.issues)
        )


def flagged(value: str | bool | None, *issues: str, confidence: float = 0.4) -> FieldSpec:
    """A field an operator has to look at (``low_confidence`` unless issues are given)."""
    return FieldSpec(value, confidence, True, issues or ("low_confidence",))


@dataclass
class _Counter:
    n: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> int:
        with self.lock:
            self.n += 1
            return self.n


_DOCS = _Counter()


# The kind intake stores for a suffix (``intake.SUFFIX_FOR_KIND`` the other way round).
_KINDS = {".tif": "tiff", ".tiff": "tiff", ".jpg": "jpeg", ".jpeg": "jpeg"}


def make_record(
    db: Engine,
    *,
    template_id: str | None = "parkeringstillstand",
    template_version: int | None = 1,
    fields: Mapping[str, FieldSpec | str | bool | None] | None = None,
    issues: Iterable[str] = (),
    status: RecordStatus | str = RecordStatus.NEEDS_REVIEW,
    pages: tuple[int, ...] = (1,),
    originals: OriginalStore | None = None,
    content: bytes | None = None,
    source: str | None = None,
    suffix: str = ".pdf",
    document_id: int | None = None,
    targets: tuple[str, ...] = (),
) -> str:
    """A stored record made the way the service makes one; returns its key.

    A document row is created ``received`` and moved ``processing -> processed`` by the
    state machine, then the record is inserted in ``status`` (needs_review, accepted or
    unidentified) with ``pipeline.db.records.insert``; an accepted one gets its outbox
    rows for ``targets`` in the same transaction. With ``originals`` the document's bytes
    (``content``, unique by default) are kept in that store, so ``stored`` points at a
    real file; without, it is a reference to nothing. ``document_id`` adds the record to
    an existing document instead (its key then follows ``pages``).
    """
    status = RecordStatus(status)
    if content is None:
        content = b"%PDF-1.4\n% blankett test document " + uuid.uuid4().hex.encode() + b"\n"
    sha = hashlib.sha256(content).hexdigest()
    rec_fields = tuple(
        (v if isinstance(v, FieldSpec) else FieldSpec(v)).stored(name)
        for name, v in (fields or {}).items()
    )
    if status is RecordStatus.UNIDENTIFIED:
        template_id, template_version, rec_fields = None, None, ()
    with db.begin() as conn:
        if document_id is None:
            ref = _keep(originals, content, suffix, sha)
            doc = int(
                state.create(
                    conn,
                    "document",
                    DocStatus.RECEIVED,
                    {
                        "sha256": sha,
                        "size": len(content),
                        "kind": _KINDS.get(suffix, suffix.lstrip(".") or None),
                        "source": source or f"scan-{_DOCS.next():03d}{suffix}",
                        "inbox": "/inbox",
                        "source_removed": True,
                        "stored": ref,
                        "attempts": 0,
                    },
                )
            )
            state.move(conn, "document", doc, DocStatus.PROCESSING)
            state.move(
                conn,
                "document",
                doc,
                DocStatus.PROCESSED,
                values={"pages": len(pages), "processed_at": state.now()},
            )
        else:
            doc = document_id
            sha = _document_sha(conn, doc)
        key = f"{sha}:{pages[0] if pages else 0}"
        stored.insert(
            conn,
            StoredRecord(
                key=key,
                document_id=doc,
                status=status,
                template_id=template_id,
                template_version=template_version,
                pages=pages,
                fields=rec_fields,
                issues=tuple(issues),
            ),
        )
        if status is RecordStatus.ACCEPTED and targets:
            from pipeline.service.outbox import enqueue

            enqueue(conn, key, targets)
    return key


def record_builder(db: Engine, originals: OriginalStore | None = None) -> Callable[..., str]:
    """``make_record`` bound to a database (and an original store)."""
    return partial(make_record, db, originals=originals)


def _keep(originals: OriginalStore | None, content: bytes, suffix: str, sha: str) -> str:
    if originals is None:
        return f"{sha[:2]}/{sha[2:4]}/{sha}{suffix}"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"scan{suffix}"
        src.write_bytes(content)
        return originals.keep(originals.stage(src), suffix)


def _document_sha(conn: Any, doc_id: int) -> str:
    found = stored.load_document(conn, doc_id)
    if found is None:
        raise AssertionError(f"make_record: no document {doc_id}")
    return found.sha256
