"""Shared fixtures: a config pointing at the repo's templates and a temporary data dir,
and one process context (templates, matchers, Tesseract) reused across the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.compose import Context, open_context
from pipeline.config import Config, load_config

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
    with open_context(cfg, store=False) as c:
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
