"""Durable file operations: write or copy to a temporary name, fsync, rename, fsync the
folder. A crash leaves either the old state or the new one, never a half-written file
under the final name."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from pipeline import failpoints

CHUNK = 1 << 20
# File names are at most 255 bytes on the usual file systems (ext4, XFS, NTFS via SMB).
NAME_MAX = 255
# Names we make from a scanner's name leave room for our own suffixes.
OWN_NAME_MAX = 200

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with every character that is not printable escaped: controls (newlines,
    terminal escapes), format characters (bidirectional overrides that make
    ``evil\u202efdp.exe`` look like ``evilexe.pdf``), line and paragraph separators, and
    bytes that were not UTF-8 (kept by ``os.fsdecode`` as surrogates) as ``\\xNN``."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def shown(name: str) -> str:
    """A file name as printable, storable text (database, JSON, logs, the UI): like
    ``printable``, and a backslash doubled, so two different names never show the same.
    Used for display and records only; the file itself keeps its own name."""
    return printable(name.replace("\\", "\\\\"))


def _escape(ch: str) -> str:
    o = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if 0xDC80 <= o <= 0xDCFF:  # a byte that was not UTF-8
        return f"\\x{o - 0xDC00:02x}"
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


def fit_name(name: str, limit: int = OWN_NAME_MAX) -> str:
    """``name`` shortened to at most ``limit`` bytes on disk, keeping its suffix, never
    cutting a character in two."""
    raw = os.fsencode(name)
    if len(raw) <= limit:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(os.fsencode(suffix)) > 16:
        stem, suffix = name, ""
    tail = f".{suffix}" if suffix else ""
    room = limit - len(os.fsencode(tail))
    return os.fsdecode(_whole_chars(os.fsencode(stem)[:room])) + tail


def _whole_chars(raw: bytes) -> bytes:
    """``raw`` without a multi-byte UTF-8 character cut short at its end."""
    for back in range(1, min(4, len(raw)) + 1):
        b = raw[-back]
        if b < 0x80:
            return raw
        if b >= 0xC0:  # the lead byte says how long its character is
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return raw if back >= need else raw[:-back]
    return raw


def owner_only(folder: Path) -> None:
    """Make ``folder`` (created if missing) reachable by its owner only: what an earlier
    version or another umask left readable inside it is closed off at the top."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o077 and folder.stat().st_uid == os.getuid():
        folder.chmod(0o700)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tmp_name(final: Path) -> Path:
    # A leading dot and a .tmp suffix: our own watcher and most others skip such names.
    # The 14 bytes they add must not push a long name over NAME_MAX.
    base = fit_name(final.name, NAME_MAX - 14)
    return final.with_name(f".{base}.{uuid.uuid4().hex[:8]}.tmp")


def copy_hashed(src: Path, dst: Path) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` (a new file), fsync it; returns (sha256, size)."""
    h = hashlib.sha256()
    size = 0
    with src.open("rb") as fin, dst.open("xb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
            failpoints.hit("store.write")
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return h.hexdigest(), size


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a synced temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    try:
        with tmp.open("xb") as f:
            failpoints.hit("store.write")
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_copy(src: Path, dst: Path) -> str:
    """Copy ``src`` to ``dst`` via a synced temporary file and a rename; returns sha256."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(dst)
    try:
        digest, _ = copy_hashed(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dst.parent)
    return digest
