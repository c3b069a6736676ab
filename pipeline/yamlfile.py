"""Reading the YAML files people edit by hand (config.yaml, template.yaml).

One place turns a missing file, bytes that are not UTF-8 (a file saved as Latin-1 or
Windows-1252 by an editor) and broken YAML into the caller's error class, naming the
file and, for bad bytes, the byte, its offset and line, instead of a raw traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import BlankettError


def read_yaml(path: Path, error: type[BlankettError], what: str) -> Any:
    """The parsed content of ``path``; ``what`` names the file in "not found"."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{what} not found", path=path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset {exc.start} "
            f"(line {line}) cannot be read; save the file as UTF-8",
            path=path,
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML: {exc}", path=path) from None
