"""Helpers shared by the command modules: the --config option, config loading, logging."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pipeline.config import Config, load_config
from pipeline.errors import ConfigError

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config.yaml (default: ./config.yaml if present)"),
]


class EngineChoice(StrEnum):
    tesserocr = "tesserocr"
    pytesseract = "pytesseract"


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
