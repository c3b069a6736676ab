"""Shared fixtures: a config pointing at the repo's templates and a temporary data dir,
and one process context (templates, matchers, Tesseract) reused across the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pipeline.compose import open_context
from pipeline.config import Config, load_config
from pipeline.context import Context

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from pipeline.adapters.local_originals import LocalOriginals

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "forms_samples"
TEMPLATES = ROOT / "templates"


def make_config(data_dir: Path, **overrides: object) -> Config:
    base = load_config(ROOT / "config.yaml")
    return base.model_copy(
        update={
            "data_dir": data_dir,
            "database_url": f"sqlite:///{data_dir / 'blankett.sqlite3'}",
            **overrides,
        }
    )


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def cfg(session_dir: Path) -> Config:
    return make_config(session_dir)


@pytest.fixture(scope="session")
def ctx(cfg: Config) -> Iterator[Context]:
    with open_context(cfg) as c:
        yield c


def postgres_url() -> str | None:
    """A reachable PostgreSQL URL, or None; in CI an unreachable server is a failure."""
    url = os.environ.get(
        "BLANKETT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    try:
        import psycopg

        with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=3):
            return url
    except Exception as exc:  # any failure to connect means "not reachable"
        if os.environ.get("BLANKETT_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL required (BLANKETT_REQUIRE_POSTGRES) but unreachable: {exc}")
        return None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(state database URL, case database URL) on SQLite files or in a PostgreSQL schema
    of their own on the machine's server (dropped afterwards)."""
    if request.param == "sqlite":
        yield (
            f"sqlite:///{tmp_path / 'data' / 'state.sqlite3'}",
            f"sqlite:///{tmp_path / 'cases.sqlite3'}",
        )
        return
    base = postgres_url()
    if base is None:
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not reachable")
    import uuid

    from sqlalchemy import create_engine, text

    schemas = [f"t_{uuid.uuid4().hex[:10]}", f"c_{uuid.uuid4().hex[:10]}"]
    eng = create_engine(base)
    with eng.begin() as c:
        for s in schemas:
            c.execute(text(f"create schema {s}"))
    yield tuple(f"{base}?options=-csearch_path%3D{s}" for s in schemas)  # type: ignore[misc]
    with eng.begin() as c:
        for s in schemas:
            c.execute(text(f"drop schema {s} cascade"))
    eng.dispose()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.fault_report import REPORTS as FAULT_REPORTS

    if not FAULT_REPORTS:
        return
    files = sum(r[0] for r in FAULT_REPORTS)
    kills = sum(r[1] for r in FAULT_REPORTS)
    lost = sum(r[2] for r in FAULT_REPORTS)
    drec = sum(r[3] for r in FAULT_REPORTS)
    ddel = sum(r[4] for r in FAULT_REPORTS)
    terminalreporter.write_line(
        f"fault injection ({len(FAULT_REPORTS)} scenarios): {files} files dropped, {kills} "
        f"kills, {lost} lost, {drec} duplicated records, {ddel} duplicated deliveries"
    )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    """A state database of its own (SQLite) for a test that needs one server-free."""
    from pipeline.db.connect import open_state_db

    eng = open_state_db(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    yield eng
    eng.dispose()


@pytest.fixture
def originals(tmp_path: Path) -> LocalOriginals:
    from pipeline.adapters.local_originals import LocalOriginals

    return LocalOriginals(tmp_path / "originals")
