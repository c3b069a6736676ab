"""config.yaml: validated, frozen, relative paths resolved against the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.cli.common import EngineChoice
from pipeline.compose import ENGINES, TARGETS, build_targets
from pipeline.config import (
    ENGINE_KINDS,
    TARGET_KINDS,
    Config,
    FolderTargetConfig,
    SqlTargetConfig,
    TesserocrConfig,
    load_config,
    state_database_url,
    with_engine,
)
from pipeline.errors import ConfigError


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path):
    (tmp_path / "c.yaml").write_text(
        "templates_dir: t\ndatabase_url: sqlite:///db/x.sqlite3\nreview: {threshold: 0.9}\n"
    )
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.templates_dir == (tmp_path / "t").resolve()
    assert cfg.database_url == f"sqlite:///{(tmp_path / 'db' / 'x.sqlite3').resolve()}"
    assert cfg.review.threshold == 0.9
    with pytest.raises(ValidationError):
        cfg.review.threshold = 0.1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ocr: {kind: easyocr}\n", "ocr.kind"),
        ("review: {threshold: 2}\n", "review.threshold"),
        ("unknown_key: 1\n", "unknown_key"),
        ("database_url: mysql://x\n", "database_url"),
        ("- a list\n", "mapping"),
        ("key: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_missing_config_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_config(path)


def test_targets_and_ocr_keep_the_old_yaml(tmp_path: Path):
    cfg = _load(
        tmp_path,
        "ocr: {tessdata: /td}\n"  # no kind: tesserocr, as before
        "delivery:\n  targets:\n"
        "    - {name: cases, kind: sql, url: 'sqlite:///c.sqlite3'}\n"
        "    - {name: out, kind: folder, path: export}\n",
    )
    assert isinstance(cfg.ocr, TesserocrConfig) and cfg.ocr.tessdata == Path("/td")
    sql, folder = cfg.delivery.targets
    assert isinstance(sql, SqlTargetConfig) and isinstance(folder, FolderTargetConfig)
    assert sql.url == f"sqlite:///{(tmp_path / 'c.sqlite3').resolve()}"
    assert cfg.delivery.folders() == {"out": (tmp_path / "export").resolve()}
    # the defaults: one of each, resolved the same way
    assert [t.kind for t in Config().delivery.targets] == ["sql", "folder"]
    assert set(load_config(None).delivery.folders()) == {"export"}


def test_sql_target_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cfg = _load(
        tmp_path,
        "delivery:\n  targets:\n    - {name: cases, kind: sql, url_env: BLANKETT_CASES_URL}\n",
    )
    monkeypatch.delenv("BLANKETT_CASES_URL", raising=False)
    with pytest.raises(ConfigError, match="BLANKETT_CASES_URL") as err:
        build_targets(cfg)  # read when built, not when loaded
    assert "cases" in str(err.value)
    url = f"sqlite:///{tmp_path / 'cases.sqlite3'}"
    monkeypatch.setenv("BLANKETT_CASES_URL", url)
    (target,) = build_targets(cfg).values()
    assert target.name == "cases"
    assert cfg.model_dump()["delivery"]["targets"][0]["url"] is None  # never in the config
    monkeypatch.setenv("BLANKETT_CASES_URL", "mysql://u:secret@h/db")
    with pytest.raises(ConfigError) as bad:
        build_targets(cfg)
    assert "secret" not in str(bad.value)


@pytest.mark.parametrize(
    "target",
    [
        "{name: c, kind: sql, url: 'sqlite:///x', url_env: X}",
        "{name: c, kind: sql}",
        "{name: c, kind: sql, url: 'mysql://x'}",
        "{name: c, kind: folder}",
        "{name: c, kind: folder, path: p, url: 'sqlite:///x'}",
    ],
)
def test_bad_targets(tmp_path: Path, target: str):
    with pytest.raises(ConfigError, match=r"delivery\.targets\.0"):
        _load(tmp_path, f"delivery: {{targets: [{target}]}}\n")


def test_state_database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert state_database_url(Config()) == Config().database_url
    cfg = _load(tmp_path, "database_url_env: BLANKETT_DB\n")
    monkeypatch.delenv("BLANKETT_DB", raising=False)
    with pytest.raises(ConfigError, match="BLANKETT_DB"):
        state_database_url(cfg)
    monkeypatch.setenv("BLANKETT_DB", "postgresql+psycopg://u:p@h/db")
    assert state_database_url(cfg) == "postgresql+psycopg://u:p@h/db"
    with pytest.raises(ConfigError, match="not both"):
        _load(tmp_path, "database_url: sqlite:///x\ndatabase_url_env: BLANKETT_DB\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ocr: {kind: easyocr}\n", "ocr.kind: unknown kind 'easyocr'; allowed: "),
        ("delivery: {targets: [{name: a, kind: ftp}]}\n", "targets.0.kind: unknown kind 'ftp'"),
        ("delivery: {targets: [{name: a, url: x}]}\n", "targets.0.kind: kind is missing"),
    ],
)
def test_unknown_kind_lists_the_allowed_ones(tmp_path: Path, text: str, expected: str):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert expected in str(err.value)
    kinds = ENGINE_KINDS if "ocr" in text else TARGET_KINDS
    assert all(k in str(err.value) for k in kinds)


def test_every_kind_has_a_factory_and_a_choice():
    assert set(ENGINES) == set(ENGINE_KINDS) and len(ENGINE_KINDS) >= 2
    assert set(TARGETS) == set(TARGET_KINDS)
    assert [e.value for e in EngineChoice] == list(ENGINE_KINDS)


def test_with_engine_keeps_the_shared_settings():
    cfg = Config().model_copy(
        update={"ocr": TesserocrConfig(tessdata=Path("/td"), text_lang="eng")}
    )
    for kind in ENGINE_KINDS:
        other = with_engine(cfg, kind)
        assert other.ocr.kind == kind
        assert (other.ocr.tessdata, other.ocr.text_lang) == (Path("/td"), "eng")
    with pytest.raises(ConfigError, match="tesserocr"):
        with_engine(cfg, "easyocr")
