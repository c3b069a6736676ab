"""config.yaml: validated, frozen, relative paths resolved against the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.config import load_config
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
