"""Case target: one folder per record, for case systems that import from a share.

``<root>/<form id>/<record id>/`` holds ``record.json`` (the delivery JSON, with its
schema version), ``fields.csv`` (name, value, confidence), the record's own pages of the
scan (the whole file, bit-identical, when the record has all its pages) and
``manifest.sha256`` (``sha256sum -c`` checks it). It is built under a temporary name,
renamed into place, and ``DONE`` is written last: an importer takes a folder only when
``DONE`` is there. A folder that is already complete is left as it is (re-delivery is a
no-op); one without ``DONE`` (a crash after the rename) is checked against its manifest
and finished.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

from pipeline import failpoints
from pipeline.errors import TargetRejected, TargetUnavailable
from pipeline.fsutil import atomic_copy, atomic_write, fit_name, fsync_dir, sha256_of, tmp_name
from pipeline.ports import Parcel
from pipeline.records import StoredField

DONE = "DONE"
MANIFEST = "manifest.sha256"
# Out of space, I/O errors and a share that went away are worth retrying; anything else
# (permissions, a file where the folder should be) needs a person.
_TRANSIENT = {
    errno.ENOSPC,
    errno.EIO,
    errno.EAGAIN,
    errno.ETIMEDOUT,
    errno.ESTALE,
    errno.ENOTCONN,
    errno.EDQUOT,
}


def record_folder_name(record_key: str) -> str:
    sha, _, page = record_key.partition(":")
    return f"{sha[:16]}-p{page or 0}"


class FolderTarget:
    def __init__(self, name: str, root: Path):
        self.name = name
        self.root = root

    def send(self, parcel: Parcel) -> None:
        rec = parcel.record
        form = rec.template_id or "unidentified"
        final = self.root / form / record_folder_name(rec.key)
        try:
            if (final / DONE).is_file():
                return
            if final.is_dir():
                if self._verified(final):
                    self._finish(final)
                    return
                shutil.rmtree(final)  # cannot be trusted; build it again
            self._build(parcel, final)
            failpoints.hit("export.after_rename")
            self._finish(final)
        except OSError as exc:
            msg = f"cannot write {final}: {exc.strerror or exc}"
            if exc.errno in _TRANSIENT:
                raise TargetUnavailable(msg) from None
            raise TargetRejected(msg) from None

    def _build(self, parcel: Parcel, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = tmp_name(final)
        tmp.mkdir()
        try:
            failpoints.hit("export.write")
            files = {
                "record.json": (
                    json.dumps(parcel.payload, indent=2, ensure_ascii=False) + "\n"
                ).encode("utf-8"),
                "fields.csv": _fields_csv(parcel.record.fields),
            }
            sums = {}
            for name, data in files.items():
                atomic_write(tmp / name, data)
                sums[name] = hashlib.sha256(data).hexdigest()
            original = _safe_name(parcel.original_name)
            sums[original] = atomic_copy(parcel.original, tmp / original)
            manifest = "".join(f"{h}  {n}\n" for n, h in sorted(sums.items()))
            atomic_write(tmp / MANIFEST, manifest.encode("utf-8"))
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_dir(final.parent)

    def _finish(self, final: Path) -> None:
        atomic_write(final / DONE, b"")

    def _verified(self, final: Path) -> bool:
        manifest = final / MANIFEST
        if not manifest.is_file():
            return False
        for line in manifest.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.partition("  ")
            path = final / name
            if not path.is_file() or sha256_of(path) != digest:
                return False
        return True

    def close(self) -> None:
        pass


# A cell starting with one of these is a formula to a spreadsheet (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A value as a CSV cell a spreadsheet shows as text: a leading formula character gets
    a ``'`` in front (OWASP's advice), so "=HYPERLINK(...)" is never run when opened."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _fields_csv(fields: tuple[StoredField, ...]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "value", "confidence"])
    for f in fields:
        w.writerow([csv_cell(f.name), csv_cell(f.value), round(f.confidence, 3)])
    return buf.getvalue().encode("utf-8")


def _safe_name(name: str) -> str:
    base = fit_name(Path(name).name)  # room for the temporary name's suffix
    # Case-insensitive too: export shares are often SMB, where Record.json is record.json.
    if base.lower() in ("", ".", "..", "record.json", "fields.csv", MANIFEST.lower(), "done"):
        return f"original-{base or 'file'}"
    return base
