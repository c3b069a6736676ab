"""Helpers shared by the command modules: the --config option, config loading, logging."""

from __future__ import annotations

import logging
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pipeline.config import ENGINE_KINDS, Config, load_config
from pipeline.errors import ConfigError
from pipeline.fsutil import printable

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config.yaml (default: ./config.yaml if present)"),
]


# The --engine choices are config's engine kinds, so a new engine needs no edit here.
# mypy cannot see members of an enum built from a variable; only .value is used.
EngineChoice = StrEnum("EngineChoice", {k: k for k in ENGINE_KINDS})  # type: ignore[misc]


def load_cli_config(path: Path | None) -> Config:
    private_files()
    if path is None and Path("config.yaml").is_file():
        path = Path("config.yaml")
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(f"blankett: {exc}", err=True)
        raise typer.Exit(2) from None


def private_files() -> None:
    """Everything blankett writes holds personal data (stored scans, crops, records,
    exports, quarantine, the SQLite databases): owner only (0600 files, 0700 folders),
    whatever umask the shell or unit gave. A case system's importer that runs as another
    user is given access with a default ACL on the export folder (docs/service.md)."""
    os.umask(0o077)


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr)
    for h in logging.getLogger().handlers:
        h.setFormatter(TextLogFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))


class TextLogFormatter(logging.Formatter):
    """Log lines for people. A message cannot start a new line or drive the terminal: file
    names from scanners can hold newlines and escape sequences (they are shown escaped)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)


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
            "message": printable(record.getMessage()),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_service_logging(*, quiet: bool, json_lines: bool) -> None:
    if json_lines:
        # Pure JSON on stderr: what Python, multiprocessing or a C library (Tesseract)
        # would print there as text is turned into log records first (service.stderr).
        from pipeline.cli.jsonstderr import capture_stderr

        handler: logging.Handler = capture_stderr()
        handler.setFormatter(JsonLogFormatter())
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(TextLogFormatter("%(asctime)s %(levelname)-7s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    for noisy in ("watchdog", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
