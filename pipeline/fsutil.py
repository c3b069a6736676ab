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


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tmp_name(final: Path) -> Path:
    # A leading dot and a .tmp suffix: our own watcher and most others skip such names.
    return final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")


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
