"""Content-addressed store of original files on a local (or mounted) folder:
``<root>/ab/cd/<sha256><suffix>``, written via a synced temporary file and a rename."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from pipeline.fsutil import copy_hashed, fsync_dir
from pipeline.ports import Staged


class LocalOriginals:
    def __init__(self, root: Path):
        self.root = root
        self._scratch = root / ".incoming"

    def stage(self, src: Path) -> Staged:
        self._scratch.mkdir(parents=True, exist_ok=True)
        tmp = self._scratch / f"{uuid.uuid4().hex}.tmp"
        try:
            sha, size = copy_hashed(src, tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Staged(tmp=tmp, sha256=sha, size=size)

    def keep(self, staged: Staged, suffix: str) -> str:
        ref = f"{staged.sha256[:2]}/{staged.sha256[2:4]}/{staged.sha256}{suffix}"
        final = self.root / ref
        final.parent.mkdir(parents=True, exist_ok=True)
        # Same name, same content: a file left by an earlier, interrupted ingest is as good.
        os.replace(staged.tmp, final)
        fsync_dir(final.parent)
        return ref

    def discard(self, staged: Staged) -> None:
        staged.tmp.unlink(missing_ok=True)

    def path(self, ref: str) -> Path:
        return self.root / ref

    def sweep_scratch(self) -> int:
        """Remove scratch copies left by a crash; the inbox still has their files."""
        n = 0
        if self._scratch.is_dir():
            for p in self._scratch.glob("*.tmp"):
                p.unlink(missing_ok=True)
                n += 1
        return n
