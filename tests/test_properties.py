"""Property-based tests (issue 10, beyond the list): any name the OS allows and any bytes
a scanner or a broken copy can leave are taken or quarantined with a reason, never a
crash, never lost; any broken file gives a reasoned error from the reading stages, never
an unexpected exception. Bounded example counts keep CI time fixed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipeline.adapters.local_originals import LocalOriginals
from pipeline.config import Config, LimitsConfig, NormalizeConfig
from pipeline.db.connect import open_state_db
from pipeline.db.schema import documents
from pipeline.db.state import DocStatus
from pipeline.errors import BlankettError
from pipeline.fsutil import shown
from pipeline.service.intake import take
from pipeline.service.staging import staging_root
from pipeline.stages.ingest import ingest
from pipeline.stages.normalize import normalize
from tests.conftest import SAMPLES
from tests.service_kit import service_config

SEEDS = {
    "pdf": (SAMPLES / "parkeringstillstand" / "scan-01.pdf").read_bytes(),
    "tiff": (SAMPLES / "forskoleplats" / "scan-02-bilevel.tif").read_bytes(),
    "jpeg": (SAMPLES / "mixed" / "unknown-form.jpg").read_bytes(),
}

# Any bytes but "/" and NUL, 1..255 long: every name Linux allows in a folder.
names = st.binary(min_size=1, max_size=255).filter(
    lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")
)


class Damaged(bytes):
    """Bytes that say how they were made when a failing example is printed (the seeds
    are megabytes long)."""

    how = ""

    def __repr__(self) -> str:
        return f"<{self.how}: {len(self)} bytes, sha256 {hashlib.sha256(self).hexdigest()}>"


def _damaged(data: bytes, how: str) -> Damaged:
    out = Damaged(data)
    out.how = how
    return out


@st.composite
def damaged(draw: st.DrawFn) -> Damaged:
    """A real scan cut short, with bytes flipped, glued to another format, or noise."""
    how = draw(st.sampled_from(["truncate", "flip", "mix", "noise"]))
    name = draw(st.sampled_from(sorted(SEEDS)))
    seed = SEEDS[name]
    if how == "noise":
        return _damaged(draw(st.binary(min_size=0, max_size=2048)), how)
    if how == "truncate":
        cut = draw(st.integers(0, len(seed)))
        return _damaged(seed[:cut], f"{name} cut at {cut}")
    if how == "mix":
        other = draw(st.sampled_from(sorted(SEEDS)))
        cut = draw(st.integers(1, len(seed)))
        return _damaged(seed[:cut] + SEEDS[other], f"{name} cut at {cut} + {other}")
    data = bytearray(seed)
    flips = []
    for _ in range(draw(st.integers(1, 20))):
        at, value = draw(st.integers(0, len(data) - 1)), draw(st.integers(0, 255))
        data[at] = value
        flips.append((at, value))
    return _damaged(bytes(data), f"{name} with bytes set {flips}")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, Engine]]:
    root = tmp_path_factory.mktemp("props")
    cfg = service_config(root)
    db = open_state_db(cfg.database_url)
    yield cfg, db
    db.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, data=damaged())
def test_any_name_and_any_bytes_are_taken_or_quarantined(
    service: tuple[Config, Engine], name: bytes, data: bytes
):
    cfg, db = service
    inbox = cfg.service.inbox[0]
    rel = os.fsdecode(name)
    path = staging_root(inbox) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    taken = take(path, inbox, rel, db, LocalOriginals(cfg.originals_dir), cfg)
    assert taken is not None
    assert not path.exists()  # removed only once kept
    with db.connect() as conn:
        row = conn.execute(select(documents).where(documents.c.id == taken.document_id)).one()
    assert row.source == shown(rel)
    if taken.status is DocStatus.QUARANTINED:
        kept = Path(row.quarantined)
        assert kept.read_bytes() == data and len(os.fsencode(kept.name)) <= 200
        assert kept.with_name(kept.name + ".reason.json").is_file()
    else:
        assert taken.status in (DocStatus.RECEIVED, DocStatus.DUPLICATE)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=damaged())
def test_broken_files_give_a_reasoned_error_from_the_reading_stages(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
):
    path = tmp_path_factory.mktemp("broken") / "scan"
    path.write_bytes(data)
    limits = LimitsConfig()
    try:
        pages = normalize(ingest(path, limits), NormalizeConfig(dpi=100), limits)
        for page in pages:
            assert page.image.ndim == 2 and page.image.size > 0
    except BlankettError as exc:
        assert exc.code and exc.message
