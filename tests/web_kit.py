"""A small world for the web tests: real records made by the service from the project's
samples (one to review, one delivered, one unidentified, one quarantined), two accounts,
and helpers to sign in and read CSRF tokens."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipeline.compose import open_context
from pipeline.config import Config
from pipeline.db import records as stored
from pipeline.db.connect import open_state_db
from pipeline.db.schema import documents, records
from pipeline.records import RecordStatus
from tests.conftest import SAMPLES
from tests.service_kit import Ledger, run_service, service_config

PASSWORD = "correct horse 1"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class World:
    cfg: Config
    review_key: str  # needs_review (a wrong personnummer check digit)
    delivered_key: str
    unidentified_doc: int
    quarantined_doc: int


def build_world(root: Path, ctx: Any) -> World:
    from pipeline.service.accounts import add_user

    cfg = service_config(root)
    ledger = Ledger(cfg.service.inbox[0])
    ledger.drop("ansokan.jpg", (SAMPLES / "parkeringstillstand" / "scan-02.jpg").read_bytes())
    ledger.drop(
        "klar.png", (SAMPLES / "parkeringstillstand" / "scan-03-upside-down.png").read_bytes()
    )
    ledger.drop("okand.jpg", (SAMPLES / "mixed" / "unknown-form.jpg").read_bytes())
    ledger.drop("tom.pdf", b"")
    db = open_state_db(cfg.database_url)
    try:
        # a context of the world's own config, so crops land in its artifacts folder
        with open_context(cfg, templates=ctx.templates) as own:
            run_service(cfg, db, own)
        add_user(db, "ada", PASSWORD, "admin")
        add_user(db, "olle", PASSWORD, "operator")
        add_user(db, "stina", PASSWORD, "operator")
        with db.connect() as c:
            rows = c.execute(
                select(records.c.key, records.c.status, documents.c.id, documents.c.source).join(
                    documents, documents.c.id == records.c.document_id
                )
            ).all()
            q = c.execute(
                select(documents.c.id).where(documents.c.status == "quarantined")
            ).scalar_one()
    finally:
        db.dispose()
    by = {r.source: r for r in rows}
    assert by["ansokan.jpg"].status == "needs_review", rows
    assert by["klar.png"].status == "delivered", rows
    return World(cfg, by["ansokan.jpg"].key, by["klar.png"].key, by["okand.jpg"].id, q)


def copy_world(w: World, to: Path) -> tuple[World, Engine]:
    """The same world with a state database of its own (artifacts are shared, read only)."""
    src = Path(w.cfg.database_url.removeprefix("sqlite:///"))
    dst = to / "state.sqlite3"
    shutil.copy(src, dst)
    cfg = w.cfg.model_copy(update={"database_url": f"sqlite:///{dst}"})
    return World(cfg, w.review_key, w.delivered_key, w.unidentified_doc, w.quarantined_doc), (
        open_state_db(cfg.database_url)
    )


def flag_fields(db: Engine, key: str, names: list[str]) -> None:
    """Mark fields of a record in review as needing it (low confidence), as if the machine
    had been unsure of them; saved through the store like any change."""
    with db.begin() as c:
        rec = stored.load(c, key)
        assert rec is not None and rec.status is RecordStatus.NEEDS_REVIEW
        fields = tuple(
            replace(f, needs_review=True, issues=("low_confidence",), confidence=0.55)
            if f.name in names
            else f
            for f in rec.fields
        )
        stored.save(c, replace(rec, fields=fields, issues=()))


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def app_for(w: World, db: Engine):  # type: ignore[no-untyped-def]
    """The review app of a world, built as ``blankett serve`` builds it."""
    from pipeline.compose import build_originals
    from pipeline.templates.load import load_specs
    from pipeline.web.app import create_app

    return create_app(w.cfg, db, load_specs(w.cfg.templates_dir), build_originals(w.cfg))
