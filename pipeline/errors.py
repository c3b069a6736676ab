"""The one exception tree of blankett.

Every error carries a stable ``code`` (used in output, quarantine reasons and the
database), a ``retryable`` flag, and a message a person can act on. Exceptions are for
work that cannot continue; a low confidence or a failed rule is data on the record.
``Reason`` lists every code; docs/cli.md documents them for integrators.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path


class Reason(StrEnum):
    """Why work failed. Stored and delivered as the string, so the values never change."""

    ERROR = "error"
    INTERNAL_ERROR = "internal_error"  # a bug: anything raised that is not a BlankettError
    CONFIG_INVALID = "config_invalid"
    TEMPLATE_INVALID = "template_invalid"
    INPUT_INVALID = "input_invalid"
    FILE_NOT_FOUND = "file_not_found"
    EMPTY_FILE = "empty_file"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TRUNCATED_FILE = "truncated_file"
    CORRUPT_FILE = "corrupt_file"
    ENCRYPTED_PDF = "encrypted_pdf"
    TOO_LARGE = "too_large"
    OCR_ENGINE_FAILED = "ocr_engine_failed"
    WORKER_CRASHED = "worker_crashed"  # the service gave up after max_attempts worker deaths
    STORE_FAILED = "store_failed"
    INVALID_TRANSITION = "invalid_transition"
    DELIVERY_FAILED = "delivery_failed"
    TARGET_UNKNOWN = "target_unknown"
    TARGET_UNAVAILABLE = "target_unavailable"
    TARGET_REJECTED = "target_rejected"
    SIGN_IN_THROTTLED = "sign_in_throttled"


class BlankettError(Exception):
    """Base of every error blankett raises on purpose."""

    code: str = Reason.ERROR
    retryable: bool = False

    def __init__(self, message: str, *, path: Path | str | None = None, code: str | None = None):
        self.path = str(path) if path is not None else None
        if code is not None:
            self.code = code
        super().__init__(f"{self.path}: {message}" if self.path else message)
        self.message = message


class ConfigError(BlankettError):
    """config.yaml is missing or does not validate."""

    code = Reason.CONFIG_INVALID


class TemplateError(BlankettError):
    """A template file is missing, malformed or inconsistent."""

    code = Reason.TEMPLATE_INVALID


class InputError(BlankettError):
    """The input file cannot be processed as it is; keep it and say why."""

    code = Reason.INPUT_INVALID


class FileNotFound(InputError):
    code = Reason.FILE_NOT_FOUND


class EmptyFile(InputError):
    code = Reason.EMPTY_FILE


class UnsupportedFormat(InputError):
    code = Reason.UNSUPPORTED_FORMAT


class TruncatedFile(InputError):
    code = Reason.TRUNCATED_FILE


class CorruptFile(InputError):
    code = Reason.CORRUPT_FILE


class EncryptedPdf(InputError):
    code = Reason.ENCRYPTED_PDF


class TooLarge(InputError):
    """Over a configured limit: bytes, pixels per page (decompression bombs) or pages."""

    code = Reason.TOO_LARGE


class EngineError(BlankettError):
    """The OCR engine could not be started or failed on a crop."""

    code = Reason.OCR_ENGINE_FAILED


class StoreError(BlankettError):
    """The record store could not be written; worth retrying."""

    code = Reason.STORE_FAILED
    retryable = True


class StateError(BlankettError):
    """A status change that the state machine does not allow, or one that lost a race."""

    code = Reason.INVALID_TRANSITION


class DeliveryError(BlankettError):
    """A case target did not take a record."""

    code = Reason.DELIVERY_FAILED


class TargetUnavailable(DeliveryError):
    """The target is down, busy or out of space: try again later."""

    code = Reason.TARGET_UNAVAILABLE
    retryable = True


class TargetRejected(DeliveryError):
    """The target refused the record; resending will not help until something is fixed."""

    code = Reason.TARGET_REJECTED


class SignInThrottled(BlankettError):
    """Too many failed sign-ins for this name from this client; ``seconds`` to wait."""

    code = Reason.SIGN_IN_THROTTLED
    retryable = True

    def __init__(self, seconds: int) -> None:
        super().__init__(f"try again in {seconds} s")
        self.seconds = seconds
