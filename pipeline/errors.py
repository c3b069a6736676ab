"""The one exception tree of blankett.

Every error carries a stable ``code`` (used in output, quarantine reasons and the
database), a ``retryable`` flag, and a message a person can act on. Exceptions are for
work that cannot continue; a low confidence or a failed rule is data on the record.
"""

from __future__ import annotations

from pathlib import Path


class BlankettError(Exception):
    """Base of every error blankett raises on purpose."""

    code: str = "error"
    retryable: bool = False

    def __init__(self, message: str, *, path: Path | str | None = None, code: str | None = None):
        self.path = str(path) if path is not None else None
        if code is not None:
            self.code = code
        super().__init__(f"{self.path}: {message}" if self.path else message)
        self.message = message


class ConfigError(BlankettError):
    """config.yaml is missing or does not validate."""

    code = "config_invalid"


class TemplateError(BlankettError):
    """A template file is missing, malformed or inconsistent."""

    code = "template_invalid"


class InputError(BlankettError):
    """The input file cannot be processed as it is; keep it and say why."""

    code = "input_invalid"


class FileNotFound(InputError):
    code = "file_not_found"


class EmptyFile(InputError):
    code = "empty_file"


class UnsupportedFormat(InputError):
    code = "unsupported_format"


class TruncatedFile(InputError):
    code = "truncated_file"


class CorruptFile(InputError):
    code = "corrupt_file"


class EncryptedPdf(InputError):
    code = "encrypted_pdf"


class TooLarge(InputError):
    """Over a configured limit: bytes, pixels per page (decompression bombs) or pages."""

    code = "too_large"


class EngineError(BlankettError):
    """The OCR engine could not be started or failed on a crop."""

    code = "ocr_engine_failed"


class StoreError(BlankettError):
    """The record store could not be written; worth retrying."""

    code = "store_failed"
    retryable = True


class StateError(BlankettError):
    """A status change that the state machine does not allow, or one that lost a race."""

    code = "invalid_transition"


class DeliveryError(BlankettError):
    """A case target did not take a record."""

    code = "delivery_failed"


class TargetUnavailable(DeliveryError):
    """The target is down, busy or out of space: try again later."""

    code = "target_unavailable"
    retryable = True


class TargetRejected(DeliveryError):
    """The target refused the record; resending will not help until something is fixed."""

    code = "target_rejected"
