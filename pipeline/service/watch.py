"""Inbox watching: which files are ready to take. Enqueue only; intake does the rest.

Three ways of seeing files, because each alone misses some: a scan at start-up (files
dropped while the service was down), watchdog events (prompt on local disks) and a
periodic poll (network shares drop events). A file is *ready* when its size and mtime are
unchanged over ``stable_polls`` polls, it opens, and its format is complete (end marker,
TIFF directories inside the file). A stable file that stays incomplete is re-checked on
every poll and, after ``incomplete_after_seconds``, handed over anyway so that intake
quarantines it with its reason: nothing is waited on for ever or dropped silently.

``StabilityTracker`` is pure (no I/O, time passed in) so its rules are tested directly.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import Config, ServiceConfig
from pipeline.errors import ConfigError
from pipeline.fsutil import shown
from pipeline.service.staging import staged
from pipeline.stages.ingest import file_complete

log = logging.getLogger(__name__)

# Scanners and copy tools write under these names and rename when done.
_IGNORED_PREFIXES = (".", "~$")
_IGNORED_SUFFIXES = (".tmp", ".part")
# How often to repeat a warning about a file that is not becoming ready.
_WARN_EVERY = 60.0


def ignored(name: str) -> bool:
    low = name.lower()
    return low.startswith(_IGNORED_PREFIXES) or low.endswith(_IGNORED_SUFFIXES)


@dataclass
class FileState:
    size: int
    mtime_ns: int
    unchanged: int
    first_seen: float
    changed_at: float  # when a change was last seen (first_seen at first)
    incomplete_since: float | None = None
    warned_at: float = 0.0


class StabilityTracker:
    """Counts the polls over which each file's size and mtime stayed the same."""

    def __init__(self, polls: int):
        self.polls = polls
        self.files: dict[Path, FileState] = {}

    def observe(self, path: Path, size: int, mtime_ns: int, now: float) -> bool:
        """Record one poll of ``path``; True when it has been stable long enough."""
        st = self.files.get(path)
        if st is None:
            self.files[path] = FileState(size, mtime_ns, 0, now, now)
            return False
        if (st.size, st.mtime_ns) != (size, mtime_ns):
            st.size, st.mtime_ns, st.unchanged, st.changed_at = size, mtime_ns, 0, now
            st.incomplete_since = None
            return False
        st.unchanged += 1
        return st.unchanged >= self.polls

    def touched(self, path: Path, now: float) -> None:
        """A file event: whatever the poll saw, the file is being worked on."""
        st = self.files.get(path)
        if st is not None:
            st.unchanged = 0
            st.changed_at = now

    def forget(self, path: Path) -> None:
        self.files.pop(path, None)

    def keep_only(self, present: set[Path]) -> None:
        for p in [p for p in self.files if p not in present]:
            del self.files[p]


@dataclass(frozen=True)
class Ready:
    path: Path
    inbox: Path
    quiet_since: float  # no change seen since then (monotonic)


def scan(
    inbox: Path, links: list[Path] | None = None, skipped: list[str] | None = None
) -> Iterator[tuple[Path, os.stat_result]]:
    """Regular files under ``inbox`` (recursively), skipping temporary names. Symbolic
    links are not followed (a link could point anywhere); they are added to ``links``.
    An entry or sub-folder that cannot be looked at is skipped and described in
    ``skipped``. Raises OSError when ``inbox`` itself cannot be listed."""
    for e in list(os.scandir(inbox)):
        if ignored(e.name):
            continue
        try:
            if e.is_symlink():
                if links is not None:
                    links.append(Path(e.path))
            elif e.is_dir(follow_symlinks=False):
                yield from _scan_below(Path(e.path), links, skipped)
            elif e.is_file(follow_symlinks=False):
                yield Path(e.path), e.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # renamed or taken between listing and stat
        except OSError as exc:  # one entry a network share cannot stat: skip it only
            if skipped is not None:
                skipped.append(f"{shown(e.path)}: {exc.strerror or exc}")


def _scan_below(
    folder: Path, links: list[Path] | None, skipped: list[str] | None
) -> Iterator[tuple[Path, os.stat_result]]:
    try:
        yield from scan(folder, links, skipped)
    except FileNotFoundError:
        return  # removed while we looked
    except OSError as exc:
        if skipped is not None:
            skipped.append(f"{shown(str(folder))}: {exc.strerror or exc}")


@dataclass(frozen=True)
class Census:
    """What lies in the inbox folders, for ``blankett status``."""

    files: int  # waiting to be taken (staged ones included)
    links: int  # symbolic links, which are never followed
    missing: tuple[str, ...]  # inbox folders that cannot be listed, with the reason


def census(folders: tuple[Path, ...]) -> Census:
    files = links = 0
    missing: list[str] = []
    for f in folders:
        found: list[Path] = []
        try:
            files += sum(1 for _ in scan(f, found))
        except OSError as exc:
            missing.append(f"{f}: {exc.strerror or exc}")
            continue
        files += sum(1 for _ in staged(f))
        links += len(found)
    return Census(files, links, tuple(missing))


class Inbox:
    """The inbox folders' files and which of them are ready to take."""

    def __init__(self, cfg: ServiceConfig):
        self.cfg = cfg
        self.tracker = StabilityTracker(cfg.stable_polls)
        self.links: set[Path] = set()  # symbolic links seen (each reported once)
        self.missing: dict[Path, str] = {}  # inbox folders that cannot be listed, and why
        self.skipped: set[str] = set()  # entries that could not be looked at (reported once)

    def poll(self, now: float) -> list[Ready]:
        ready: list[Ready] = []
        present: set[Path] = set()
        links: list[Path] = []
        skipped: list[str] = []
        for inbox in self.cfg.inbox:
            try:
                found = list(scan(inbox, links, skipped))
            except OSError as exc:
                self._gone(inbox, exc)
                present.update(p for p in self.tracker.files if p.is_relative_to(inbox))
                continue
            if self.missing.pop(inbox, None) is not None:
                log.warning("inbox %s is back; taking files again", inbox)
            for path, st in found:
                present.add(path)
                if self.tracker.observe(path, st.st_size, st.st_mtime_ns, now):
                    r = self._check(path, inbox, now)
                    if r is not None:
                        ready.append(r)
                else:
                    self._warn_if_slow(path, now)
        self.tracker.keep_only(present)
        self._report_links(set(links))
        for what in sorted(set(skipped) - self.skipped):
            log.warning("cannot look at %s; skipped until it can", what)
        self.skipped = set(skipped)
        return ready

    def _gone(self, inbox: Path, exc: OSError) -> None:
        why = exc.strerror or str(exc)
        if self.missing.get(inbox) != why:
            log.error(
                "inbox %s cannot be listed (%s): an unmounted share or a removed folder? "
                "Nothing is taken from it; it is checked again every %g s",
                inbox,
                why,
                self.cfg.poll_seconds,
            )
        self.missing[inbox] = why

    def _report_links(self, links: set[Path]) -> None:
        for link in sorted(links - self.links):
            log.warning(
                "%s is a symbolic link: links are not followed; copy the file itself into "
                "the inbox and remove the link",
                shown(str(link)),
            )
        self.links = links

    def taken(self, path: Path) -> None:
        self.tracker.forget(path)

    def waiting(self) -> int:
        return len(self.tracker.files)

    def _check(self, path: Path, inbox: Path, now: float) -> Ready | None:
        st = self.tracker.files[path]
        if st.size == 0:  # created, not yet written: give the writer the grace time
            return self._incomplete(path, inbox, st, "it is empty", now)
        try:
            kind, why = file_complete(path)
        except FileNotFoundError:
            return None
        except PermissionError:
            # Staged, it would be out of its owner's reach and still unreadable: it
            # waits here until the service user may read it.
            if now - st.warned_at >= _WARN_EVERY:
                st.warned_at = now
                log.warning(
                    "cannot read %s: permission denied; give the service user read access",
                    shown(str(path)),
                )
            return None
        except OSError as exc:  # not readable yet (locked by the writer)
            return self._incomplete(path, inbox, st, f"it cannot be opened ({exc})", now)
        if kind is None or why is None:
            return Ready(path, inbox, st.changed_at)  # complete, or not ours (intake says so)
        return self._incomplete(path, inbox, st, why, now)

    def _incomplete(
        self, path: Path, inbox: Path, st: FileState, why: str, now: float
    ) -> Ready | None:
        if st.incomplete_since is None:
            st.incomplete_since = now
        waited = now - st.incomplete_since
        if waited >= self.cfg.incomplete_after_seconds:
            # Handed over anyway: intake checks the format again and quarantines it.
            return Ready(path, inbox, st.changed_at)
        if now - st.warned_at >= _WARN_EVERY:
            st.warned_at = now
            log.warning(
                "waiting for %s: unchanged but %s; re-checked every poll, quarantined after "
                "%.0f s more",
                shown(str(path)),
                why,
                self.cfg.incomplete_after_seconds - waited,
            )
        return None

    def _warn_if_slow(self, path: Path, now: float) -> None:
        st = self.tracker.files.get(path)
        if st is None:
            return
        if now - st.first_seen >= 5 * _WARN_EVERY and now - st.warned_at >= 5 * _WARN_EVERY:
            st.warned_at = now
            waited = now - st.first_seen
            log.warning("waiting for %s: still changing after %.0f s", shown(str(path)), waited)


class EventWatcher:
    """watchdog observers on the inbox folders: a changed path resets its stability and
    wakes the service loop. Events only speed things up; the poll sees everything too."""

    def __init__(self, folders: tuple[Path, ...], inbox: Inbox, wake: threading.Event):
        self._folders = folders
        self._inbox = inbox
        self._wake = wake
        self._lock = threading.Lock()
        self._touched: set[Path] = set()
        self._observer: Any = None

    def start(self) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        outer = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.is_directory or event.event_type in ("opened", "closed_no_write"):
                    return
                for p in (event.src_path, getattr(event, "dest_path", "")):
                    if p:
                        with outer._lock:
                            outer._touched.add(Path(os.fsdecode(p)))
                outer._wake.set()

        self._observer = Observer()
        for folder in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._observer.schedule(Handler(), str(folder), recursive=True)
        self._observer.daemon = True
        self._observer.start()

    def apply(self) -> None:
        """Pass the touched paths on to the stability tracker (loop thread only)."""
        with self._lock:
            touched, self._touched = self._touched, set()
        now = time.monotonic()
        for p in touched:
            self._inbox.tracker.touched(p, now)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)


def check_layout(cfg: Config) -> None:
    """The service's own folders must not lie inside an inbox (it would ingest them)."""
    own = {"quarantine": cfg.service.quarantine, "data_dir": cfg.data_dir}
    own.update({f"target {name}": path for name, path in cfg.delivery.folders().items()})
    for inbox in cfg.service.inbox:
        for what, path in own.items():
            if path == inbox or path.is_relative_to(inbox):
                raise ConfigError(f"{what} ({path}) lies inside the inbox {inbox}")
