"""Staging: a ready inbox file is moved out of the scanner's reach before it is read.

A file that looks finished may not be: a scanner writing a multi-page TIFF page by page
can pause longer than the stability window. Reading it in place and then removing it
would lose the pages written after the read, and a writer that replaces the file under
the same name would have its new file removed. So a ready file is first renamed into
``<inbox>/.blankett-taking/<its path>`` (same file system: the rename is atomic and a
writer holding it open keeps writing into the same inode), then watched there by inode
until it has been quiet for ``service.settle_seconds``, and only then hashed and
committed (``service.intake``); the quiet time seen in the inbox counts. Files left in
staging by a crash are found there on the next start.

The staging folder lies in a folder strangers may write to, so it is trusted only while
it is a real folder of ours, mode 0700 (``check_root``, before every use); the inbox
gets the sticky bit when it is ours and writable by others, so nobody else can rename
the staging folder away; one service process at a time takes from an inbox (``lock``).
Only regular files are taken from staging.

``Settling`` is pure (stat results and times passed in), so its rules are tested directly.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.fsutil import shown

log = logging.getLogger(__name__)

STAGING = ".blankett-taking"
# Longest wait between two tries of a file that cannot be taken (and between its log lines).
MAX_BACKOFF = 600.0


@dataclass(frozen=True)
class StagedFile:
    path: Path  # where it is now, under the staging folder
    inbox: Path
    rel: str  # its path in the inbox, as the scanner named it (may hold non-UTF-8 bytes)


def staging_root(inbox: Path) -> Path:
    return inbox / STAGING


def check_root(inbox: Path) -> str | None:
    """Make sure ``inbox``'s staging folder exists and is ours alone; what is wrong
    with it otherwise (nothing is staged or taken from that inbox then)."""
    root = staging_root(inbox)
    with contextlib.suppress(FileExistsError):
        root.mkdir(mode=0o700)
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode):
        return f"{root} is not a folder (a link or a file put there): remove it"
    if st.st_uid != os.getuid():
        return f"{root} belongs to another user: remove it"
    if st.st_mode & 0o077:
        os.chmod(root, 0o700)
    return None


def guard_inbox(inbox: Path) -> None:
    """An inbox others may write to needs the sticky bit (as /tmp has), or anyone could
    rename the staging folder away; set it when the inbox is ours, else say so."""
    st = inbox.stat()
    if not st.st_mode & 0o022 or st.st_mode & stat.S_ISVTX:
        return
    if st.st_uid == os.getuid():
        os.chmod(inbox, stat.S_IMODE(st.st_mode) | stat.S_ISVTX)
        log.info("inbox %s is writable by others: set its sticky bit (chmod +t)", inbox)
    else:
        log.warning(
            "inbox %s is writable by others and has no sticky bit: anyone who can write "
            "there can disturb files being taken; run `chmod +t %s`",
            inbox,
            inbox,
        )


def lock(inbox: Path) -> int:
    """Hold ``inbox``'s staging folder for this process (released when the returned
    descriptor is closed, or the process ends): a second service taking from the same
    inbox would race this one for each file."""
    fd = os.open(staging_root(inbox), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError(
            f"another blankett service is taking files from {inbox}; stop it first"
        ) from None
    return fd


def admit(path: Path, inbox: Path) -> Path | None:
    """Move ``path`` into its inbox's staging folder; None when it cannot be moved now
    (vanished, not a regular file, or a file of that name is still being taken: it waits
    in the inbox)."""
    dst = staging_root(inbox) / path.relative_to(inbox)
    try:
        if dst.exists() or not stat.S_ISREG(os.lstat(path).st_mode):
            return None
    except FileNotFoundError:
        return None
    dst.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.rename(path, dst)
    except FileNotFoundError:
        return None
    return dst


def staged(inbox: Path) -> Iterator[tuple[StagedFile, os.stat_result]]:
    """What waits in ``inbox``'s staging folder, with its ``lstat`` (not followed)."""
    root = staging_root(inbox)
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            yield StagedFile(path, inbox, path.relative_to(root).as_posix()), st


def tidy(s: StagedFile) -> None:
    """Remove the sub-folders of the staging folder that taking ``s`` left empty."""
    root = staging_root(s.inbox)
    parent = s.path.parent
    while parent != root and parent.is_relative_to(root):
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


@dataclass
class _Watch:
    ino: int
    size: int
    mtime_ns: int
    quiet_since: float  # monotonic time of the last change seen
    failures: int = 0
    retry_at: float = 0.0


class Settling:
    """Which staged files have been quiet long enough to take, and back-off for files
    that could not be taken (each failure doubles the wait, up to ``MAX_BACKOFF``)."""

    def __init__(self, settle_seconds: float, poll_seconds: float):
        self.settle = settle_seconds
        self.poll_seconds = poll_seconds
        self.files: dict[Path, _Watch] = {}
        self._quiet_before: dict[Path, float] = {}

    def expect(self, path: Path, quiet_since: float) -> None:
        """A file just staged, unchanged since ``quiet_since`` as the inbox saw it."""
        self._quiet_before[path] = quiet_since

    def observe(self, path: Path, st: os.stat_result, now: float) -> bool:
        """One look at a staged file; True when it is quiet and due for taking. Quiet is
        measured by our own clock (a share's clock or a copy tool's kept mtime says
        nothing about when the last write happened)."""
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        w = self.files.get(path)
        if w is None or (w.ino, w.size, w.mtime_ns) != key:
            since = self._quiet_before.pop(path, now) if w is None else now
            failures, retry_at = (w.failures, w.retry_at) if w is not None else (0, 0.0)
            w = _Watch(st.st_ino, st.st_size, st.st_mtime_ns, since, failures, retry_at)
            self.files[path] = w
        return now - w.quiet_since >= self.settle and now >= w.retry_at

    def failed(self, path: Path, now: float) -> float:
        """A try failed; returns the seconds until the next one."""
        w = self.files.get(path)
        if w is None:
            return self.poll_seconds
        w.failures += 1
        wait = min(self.poll_seconds * 2**w.failures, MAX_BACKOFF)
        w.retry_at = now + wait
        return wait

    def keep_only(self, present: set[Path]) -> None:
        for p in [p for p in self.files if p not in present]:
            del self.files[p]


def describe(s: StagedFile) -> str:
    """The file as people know it: its inbox path, escaped for logs."""
    return shown(str(s.inbox / s.rel))
