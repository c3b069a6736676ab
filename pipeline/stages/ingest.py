"""ingest: read a file, hash it, recognise its format and refuse what cannot be complete.

The watch service (later) adds the durable store and the inbox hand-off around the same
checks; ``sniff`` and ``check_complete`` are shared with its stability test.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.config import LimitsConfig
from pipeline.errors import (
    EmptyFile,
    FileNotFound,
    TooLarge,
    TruncatedFile,
    UnsupportedFormat,
)
from pipeline.records import Document, FileKind

SUPPORTED_SUFFIXES = frozenset({".pdf", ".tif", ".tiff", ".png", ".jpg", ".jpeg"})


def sniff(head: bytes) -> FileKind | None:
    """The format from the first bytes, whatever the file name says."""
    if head.startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


def check_complete(kind: FileKind, data: bytes) -> str | None:
    """Why a file of ``kind`` is cut short, or None when its end marker is there."""
    tail = data[-2048:]
    if kind == "pdf" and b"%%EOF" not in tail:
        return "the PDF has no end-of-file marker; it is truncated or still being written"
    if kind == "png" and b"IEND" not in tail:
        return "the PNG has no end chunk; it is truncated or still being written"
    if kind == "jpeg" and b"\xff\xd9" not in tail:
        return "the JPEG has no end marker; it is truncated or still being written"
    return None  # TIFF has no end marker; decoding every frame checks it (normalize)


def ingest(path: Path, limits: LimitsConfig) -> Document:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise FileNotFound("no such file", path=path) from None
    if path.is_dir():
        raise UnsupportedFormat("is a folder, not a file", path=path)
    if size == 0:
        raise EmptyFile("the file is empty (0 bytes)", path=path)
    if size > limits.max_file_bytes:
        raise TooLarge(f"{size} bytes is over the limit of {limits.max_file_bytes}", path=path)
    data = path.read_bytes()
    kind = sniff(data[:1024])
    if kind is None:
        raise UnsupportedFormat("not a PDF, TIFF, PNG or JPEG file", path=path)
    why = check_complete(kind, data)
    if why:
        raise TruncatedFile(why, path=path)
    return Document(path=path, sha256=hashlib.sha256(data).hexdigest(), kind=kind, data=data)
