"""Inflow: the service loop's first step, from the inbox folders to stored documents.

Ready inbox files (``service.watch``) are moved into staging, staged files that have been
quiet long enough (``service.staging``) are taken (``service.intake``). A file that cannot
be taken waits with a growing back-off; one bad file never stops the others.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from pipeline.config import Config
from pipeline.errors import BlankettError, ConfigError
from pipeline.fsutil import shown
from pipeline.ports import OriginalStore
from pipeline.service import staging
from pipeline.service.intake import take
from pipeline.service.watch import Inbox

log = logging.getLogger(__name__)


class Inflow:
    def __init__(self, cfg: Config, db: Engine, originals: OriginalStore):
        self.cfg = cfg
        self.db = db
        self.originals = originals
        self.inbox = Inbox(cfg.service)
        self.settling = staging.Settling(cfg.service.settle_seconds, cfg.service.poll_seconds)
        self._locks: list[int] = []
        self._problems: dict[Path, str] = {}  # what was last reported per inbox or file

    def start(self) -> None:
        """Before the first turn: the inbox folders' staging folders checked and held."""
        for inbox in self.cfg.service.inbox:
            inbox.mkdir(parents=True, exist_ok=True)
            staging.guard_inbox(inbox)
            problem = staging.check_root(inbox)
            if problem is not None:
                raise ConfigError(problem)
            self._locks.append(staging.lock(inbox))

    def stop(self) -> None:
        for fd in self._locks:
            os.close(fd)
        self._locks.clear()

    def turn(self, now: float) -> int:
        """One poll: stage what is ready, take what has settled; returns files taken."""
        usable = {inbox for inbox in self.cfg.service.inbox if self._usable(inbox)}
        for r in self.inbox.poll(now):
            self.inbox.taken(r.path)
            if r.inbox not in usable:
                continue
            try:
                if (dst := staging.admit(r.path, r.inbox)) is not None:
                    self.settling.expect(dst, r.quiet_since)
            except OSError as exc:
                self._report(r.path, f"cannot move {shown(str(r.path))} out of the inbox: {exc}")
        taken = 0
        present: set[Path] = set()
        for inbox in usable:
            try:
                waiting = list(staging.staged(inbox))
            except OSError as exc:
                self._report(inbox, f"cannot list the staging folder of {inbox}: {exc}")
                continue
            for s, st in waiting:
                if not stat.S_ISREG(st.st_mode):
                    # A pipe or a link swapped in for a file just before it was moved holds
                    # no data, and opening a pipe would block the loop.
                    log.warning("%s is not a regular file; removed", staging.describe(s))
                    s.path.unlink(missing_ok=True)
                    continue
                present.add(s.path)
                if self.settling.observe(s.path, st, now):
                    taken += self._take(s, now)
        self.settling.keep_only(present)
        return taken

    def _usable(self, inbox: Path) -> bool:
        try:
            problem = staging.check_root(inbox)
        except OSError as exc:
            problem = f"cannot check the staging folder of {inbox}: {exc.strerror or exc}"
        if problem is None:
            self._problems.pop(inbox, None)
            return True
        self._report(inbox, f"{problem}; nothing is taken from {inbox} until then")
        return False

    def _report(self, what: Path, message: str) -> None:
        # Once per thing and message: a condition that persists must not flood the log.
        if self._problems.get(what) != message:
            self._problems[what] = message
            log.error("%s", message)

    def waiting(self) -> int:
        """Files seen and not yet taken: in the inbox or settling in staging."""
        return self.inbox.waiting() + len(self.settling.files)

    def _take(self, s: staging.StagedFile, now: float) -> int:
        try:
            taken = take(s.path, s.inbox, s.rel, self.db, self.originals, self.cfg)
        except SQLAlchemyError:
            raise  # the state database: the whole loop backs off
        except Exception as exc:
            # Disk full, an unreadable file, a bug: this file waits and is tried again
            # later, and the log says so with a growing pause between the lines.
            wait = self.settling.failed(s.path, now)
            log.error(
                "cannot take %s yet (%s: %s); trying again in %.0f s",
                staging.describe(s),
                type(exc).__name__,
                shown(str(exc)),
                wait,
                exc_info=not isinstance(exc, OSError | BlankettError),
            )
            return 0
        if taken is None:
            return 0
        staging.tidy(s)
        return 1
