"""ingest: read a file, hash it, recognise its format and refuse what cannot be complete.

The drop-folder service (``pipeline.service.intake``) adds the durable store and the inbox
hand-off around the same checks; ``sniff`` and ``file_complete`` are shared with its
stability test (``pipeline.service.watch``).
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from pathlib import Path
from typing import BinaryIO

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


def file_complete(path: Path) -> tuple[FileKind | None, str | None]:
    """The format of the file at ``path`` and why it is incomplete (None: complete).

    Reads only the head, the tail and, for TIFF, the directory chain; cheap enough to run
    on every poll of a growing file. Only a regular file is opened (a pipe swapped in for
    it would block the caller for ever; a link is not followed): anything else has no
    format.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None, None
    with os.fdopen(fd, "rb") as f:
        head = f.read(1024)
        kind = sniff(head)
        if kind is None:
            return None, None
        size = f.seek(0, 2)
        if kind == "tiff":
            return kind, _tiff_incomplete(f, size)
        f.seek(max(0, size - 2048))
        return kind, check_complete(kind, f.read())


# TIFF tags whose values point at image data: strip or tile offsets and byte counts.
_DATA_TAGS = {273: 279, 324: 325}
_TYPE_SIZE = {3: 2, 4: 4, 16: 8}
# Directory entries walked per file at most: a hostile file could otherwise make every
# poll unpack millions of them.
_MAX_TIFF_ENTRIES = 100_000


def _tiff_incomplete(f: BinaryIO, size: int) -> str | None:
    """Walk the IFD chain; every directory and every strip must lie inside the file."""
    if size < 8:
        return "the TIFF header is cut short; the file is truncated"
    f.seek(0)
    order = "<" if f.read(2) == b"II" else ">"
    f.seek(4)
    offset = struct.unpack(order + "I", f.read(4))[0]
    seen: set[int] = set()
    entries_read = 0
    while offset:
        if offset + 2 > size or len(seen) >= 10_000:
            return "a TIFF page directory lies beyond the end; the file is truncated"
        if offset in seen:
            return None  # a directory chain that loops: not truncated; reading it fails
        seen.add(offset)
        f.seek(offset)
        (n,) = struct.unpack(order + "H", f.read(2))
        entries_read += n
        if entries_read > _MAX_TIFF_ENTRIES:
            return None  # far more than any scan has: decoding refuses it, not this walk
        raw = f.read(12 * n + 4)
        if len(raw) < 12 * n + 4:
            return "a TIFF page directory is cut short; the file is truncated"
        entries = {}
        for i in range(n):
            tag, typ, count, value = struct.unpack(order + "HHII", raw[12 * i : 12 * i + 12])
            entries[tag] = (typ, count, value)
        for off_tag, cnt_tag in _DATA_TAGS.items():
            if off_tag in entries and cnt_tag in entries:
                offs = _tiff_values(f, order, entries[off_tag], size)
                cnts = _tiff_values(f, order, entries[cnt_tag], size)
                if offs is None or cnts is None:
                    return "a TIFF strip table lies beyond the end; the file is truncated"
                if any(o + c > size for o, c in zip(offs, cnts, strict=False)):
                    return "TIFF image data runs past the end; the file is truncated"
        offset = struct.unpack(order + "I", raw[12 * n : 12 * n + 4])[0]
    return None


def _tiff_values(
    f: BinaryIO, order: str, entry: tuple[int, int, int], size: int
) -> list[int] | None:
    typ, count, value = entry
    width = _TYPE_SIZE.get(typ)
    if width is None or count == 0:
        return []
    fmt = {2: "H", 4: "I", 8: "Q"}[width]
    if width * count <= 4:
        packed = struct.pack(order + "I", value)
        return list(struct.unpack(order + fmt * count, packed[: width * count]))
    if value + width * count > size:
        return None
    f.seek(value)
    return list(struct.unpack(order + fmt * count, f.read(width * count)))


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
