"""Helpers shared by the command modules: the --config option, config loading, logging."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pipeline.config import ENGINE_KINDS, Config, load_config
from pipeline.errors import ConfigError

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config.yaml (default: ./config.yaml if present)"),
]


# The --engine choices are config's engine kinds, so a new engine needs no edit here.
# mypy cannot see members of an enum built from a variable; only .value is used.
EngineChoice = StrEnum("EngineChoice", {k: k for k in ENGINE_KINDS})  # type: ignore[misc]


def load_cli_config(path: Path | None) -> Config:
    if path is None and Path("config.yaml").is_file():
        path = Path("config.yaml")
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(f"blankett: {exc}", err=True)
        raise typer.Exit(2) from None


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line (time, level, logger, message) for log collectors.
    Messages never hold field values; they name documents, files and reason codes."""

    def format(self, record: logging.LogRecord) -> str:
        import datetime as dt
        import json

        out = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_service_logging(*, quiet: bool, json_lines: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLogFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)-7s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    for noisy in ("watchdog", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
