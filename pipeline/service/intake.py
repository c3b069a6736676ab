"""Intake: take a ready inbox file into the service, durably, exactly once.

The file has already been moved into its inbox's staging folder (``service.staging``), so
nobody writes to it under the name being taken. Two phases, in this order: (1) stream the
file into the content-addressed store (hashing it on the way, fsync, rename); (2) commit
its ``documents`` row; only then (3) remove it and note that it is gone. A crash between
any two steps leaves the file in staging, and taking it again finds the row from step 2
(same hash, same inbox path, not yet removed) and just finishes step 3; without that row
the store copy is simply reused. A file that changed while it was copied is not taken
(it is taken once quiet). Names are stored and logged escaped (``fsutil.shown``).

Same content as a stored document: a ``duplicate`` row linking to the first one. A file
that is empty, too large, not a supported format or incomplete: copied to quarantine with
a reason file, a ``quarantined`` row, then removed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Row, and_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from pipeline import failpoints
from pipeline.config import Config
from pipeline.db import state
from pipeline.db.schema import documents
from pipeline.db.state import DocStatus
from pipeline.errors import BlankettError, EmptyFile, TooLarge, TruncatedFile, UnsupportedFormat
from pipeline.fsutil import fsync_dir, sha256_of, shown
from pipeline.ports import OriginalStore, Staged
from pipeline.service.quarantine import quarantine
from pipeline.stages.ingest import file_complete

log = logging.getLogger(__name__)

SUFFIX_FOR_KIND = {"pdf": ".pdf", "tiff": ".tif", "png": ".png", "jpeg": ".jpg"}


@dataclass(frozen=True)
class Taken:
    document_id: int
    status: DocStatus
    reason: str | None = None


def take(
    path: Path,
    inbox: Path,
    rel: str,
    db: Engine,
    originals: OriginalStore,
    cfg: Config,
) -> Taken | None:
    """Take the file at ``path``, known as ``rel`` in ``inbox``; None when it vanished
    or changed while it was read (it is taken again once it is quiet)."""
    try:
        before = path.stat()
    except FileNotFoundError:
        return None
    size = before.st_size
    if size == 0:
        return _set_aside(path, inbox, rel, db, cfg, EmptyFile("the file is empty (0 bytes)"))
    if size > cfg.limits.max_file_bytes:
        err = TooLarge(f"{size} bytes is over the limit of {cfg.limits.max_file_bytes}")
        return _set_aside(path, inbox, rel, db, cfg, err)
    staged = originals.stage(path)
    try:
        if _changed(path, before, staged.size):
            log.warning("%s changed while it was read; taking it once it is quiet", shown(rel))
            return None
        # The copy is what will be kept, so it is the copy whose format is checked.
        kind, why = file_complete(staged.tmp)
        if kind is None:
            bad = UnsupportedFormat("not a PDF, TIFF, PNG or JPEG file")
            return _set_aside(path, inbox, rel, db, cfg, bad, sha=staged.sha256)
        if why:
            return _set_aside(path, inbox, rel, db, cfg, TruncatedFile(why), sha=staged.sha256)
        suffix = SUFFIX_FOR_KIND[kind]
        return _store(path, inbox, shown(rel), db, originals, staged, suffix, kind)
    finally:
        originals.discard(staged)  # a no-op once kept (renamed away)


def _store(
    path: Path,
    inbox: Path,
    rel: str,
    db: Engine,
    originals: OriginalStore,
    staged: Staged,
    suffix: str,
    kind: str,
) -> Taken:
    with db.begin() as conn:
        again = _same_drop(conn, staged.sha256, rel, inbox)
        first = None if again else stored_document(conn, staged.sha256)
    if again is not None:
        log.info("document %d: %s seen again after an interruption; finishing", again.id, rel)
        _remove(path, again.id, db)
        return Taken(again.id, DocStatus(again.status))
    common = {
        "sha256": staged.sha256,
        "size": staged.size,
        "kind": kind,
        "source": rel,
        "inbox": str(inbox),
        "source_removed": False,
        "attempts": 0,
    }
    if first is None:
        ref = originals.keep(staged, suffix)
        failpoints.hit("ingest.after_store")
        try:
            with db.begin() as conn:
                doc_id = int(
                    state.create(conn, "document", DocStatus.RECEIVED, {**common, "stored": ref})
                )
        except IntegrityError:
            # Another service process stored the same content a moment ago.
            with db.begin() as conn:
                first = stored_document(conn, staged.sha256)
            if first is None:
                raise
        else:
            failpoints.hit("ingest.after_commit")
            log.info("document %d: received %s (%s, %d bytes)", doc_id, rel, kind, staged.size)
            _remove(path, doc_id, db)
            return Taken(doc_id, DocStatus.RECEIVED)
    with db.begin() as conn:
        doc_id = int(
            state.create(
                conn,
                "document",
                DocStatus.DUPLICATE,
                {**common, "duplicate_of": first},
                reason="duplicate",
            )
        )
    log.info("document %d: %s is a duplicate of document %d", doc_id, rel, first)
    _remove(path, doc_id, db)
    return Taken(doc_id, DocStatus.DUPLICATE)


def _set_aside(
    path: Path,
    inbox: Path,
    rel: str,
    db: Engine,
    cfg: Config,
    err: BlankettError,
    *,
    sha: str | None = None,
) -> Taken:
    rel = shown(rel)  # the database, the log and the quarantine copy use the escaped name
    sha = sha or sha256_of(path)
    with db.begin() as conn:
        again = _same_drop(conn, sha, rel, inbox)
    if again is not None:
        _remove(path, again.id, db)
        return Taken(again.id, DocStatus(again.status), again.reason)
    now = state.now()
    dst = quarantine(
        path,
        cfg.service.quarantine,
        rel,
        sha,
        {
            "reason": err.code,
            "message": err.message,
            "source": rel,
            "inbox": str(inbox),
            "quarantined_at": now.isoformat(),
        },
    )
    with db.begin() as conn:
        doc_id = int(
            state.create(
                conn,
                "document",
                DocStatus.QUARANTINED,
                {
                    "sha256": sha,
                    "size": path.stat().st_size,
                    "source": rel,
                    "inbox": str(inbox),
                    "source_removed": False,
                    "quarantined": str(dst),
                    "reason": err.code,
                    "message": err.message,
                    "attempts": 0,
                },
                reason=err.code,
            )
        )
    log.warning("document %d: quarantined %s: %s [%s]", doc_id, rel, err.message, err.code)
    _remove(path, doc_id, db)
    return Taken(doc_id, DocStatus.QUARANTINED, err.code)


def _changed(path: Path, before: os.stat_result, copied: int) -> bool:
    try:
        now = path.stat()
    except FileNotFoundError:
        return True
    return (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or (
        copied != before.st_size
    )


def _same_drop(conn: Connection, sha: str, rel: str, inbox: Path) -> Row[Any, Any, Any] | None:
    return conn.execute(
        select(documents.c.id, documents.c.status, documents.c.reason).where(
            documents.c.sha256 == sha,
            documents.c.source == rel,
            documents.c.inbox == str(inbox),
            documents.c.source_removed.is_(False),
        )
    ).first()


def stored_document(conn: Connection, sha: str) -> int | None:
    """The document that keeps the content ``sha`` in the store, if any."""
    return conn.execute(
        select(documents.c.id).where(
            and_(
                documents.c.sha256 == sha,
                documents.c.stored.isnot(None),
                documents.c.duplicate_of.is_(None),
            )
        )
    ).scalar_one_or_none()


def _remove(path: Path, doc_id: int, db: Engine) -> None:
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)
    failpoints.hit("ingest.after_remove")
    with db.begin() as conn:
        conn.execute(update(documents).where(documents.c.id == doc_id).values(source_removed=True))
