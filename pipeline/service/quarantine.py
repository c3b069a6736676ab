"""Quarantine: bad files set aside with a reason, never deleted.

``quarantine/<path in inbox>`` holds a bit-identical copy of the file and
``<name>.reason.json`` beside it says why (a name too long for the reason file's suffix
is shortened, keeping its extension) (reason code, message, hash, time, document id).
A copy with the same name and content is reused, so a crash and a second attempt do not
leave two copies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.fsutil import atomic_copy, atomic_write, fit_name, sha256_of

REASON_SUFFIX = ".reason.json"


def quarantine(src: Path, qdir: Path, rel: str, sha256: str, reason: Mapping[str, Any]) -> Path:
    """Copy ``src`` to ``qdir/rel`` (or a free variant of it) and write its reason file."""
    dst = _free_name(_place(qdir, rel), sha256)
    if not dst.exists():
        atomic_copy(src, dst)
    write_reason(dst, {**reason, "sha256": sha256, "file": dst.name})
    return dst


def write_reason(dst: Path, reason: Mapping[str, Any]) -> None:
    text = json.dumps(dict(reason), indent=2, ensure_ascii=False, default=str) + "\n"
    atomic_write(reason_path(dst), text.encode("utf-8"))


def reason_path(dst: Path) -> Path:
    return dst.with_name(dst.name + REASON_SUFFIX)


def release(dst: Path) -> None:
    """Remove a quarantined copy and its reason once the file is safely kept elsewhere."""
    reason_path(dst).unlink(missing_ok=True)
    dst.unlink(missing_ok=True)


def _place(qdir: Path, rel: str) -> Path:
    """``qdir/rel`` with every part short enough for the reason file's suffix; flat
    (``a__b.pdf``) where a file already stands where a folder of ``rel`` would go."""
    want = qdir.joinpath(*(fit_name(part) for part in rel.split("/")))
    for parent in want.relative_to(qdir).parents:
        if parent != Path(".") and (qdir / parent).exists() and not (qdir / parent).is_dir():
            return qdir / fit_name(rel.replace("/", "__"))
    return want


def _free_name(want: Path, sha256: str) -> Path:
    cand = want
    n = 0
    while cand.exists():
        if cand.is_file() and sha256_of(cand) == sha256:
            return cand
        n += 1
        cand = want.with_name(f"{want.stem}.{n}{want.suffix}")
    return cand
