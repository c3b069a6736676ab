"""The service as an operating system runs it (issue 10, items 8, 17 and 21): files with
personal data are the service user's alone whatever the umask, text log lines cannot be
forged, and ``--log-json`` writes nothing but JSON to stderr."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli.common import TextLogFormatter
from tests.conftest import SAMPLES, TEMPLATES
from tests.service_kit import Ledger, service_config, write_config

ROOT = TEMPLATES.parent


def _run(*args: str, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
        preexec_fn=lambda: os.umask(umask),
    )


@pytest.mark.tesseract
def test_personal_data_is_owner_only_whatever_the_umask(tmp_path: Path):
    cfg = service_config(tmp_path)
    path = write_config(cfg, tmp_path / "service.yaml")
    ledger = Ledger(cfg.service.inbox[0])
    ledger.drop("a.pdf", (SAMPLES / "parkeringstillstand" / "scan-01.pdf").read_bytes())
    ledger.drop("junk.pdf", b"%PDF-1.4 cut short")
    res = _run("-m", "pipeline.cli.main", "watch", "--until-idle", "-c", str(path))
    assert res.returncode == 0, res.stderr
    written = [
        p
        for top in (cfg.data_dir, cfg.service.quarantine, tmp_path / "export")
        for p in (top, *top.rglob("*"))
    ] + [tmp_path / "cases.sqlite3"]
    assert any(p.suffix == ".pdf" for p in cfg.service.quarantine.iterdir())
    assert any(p.name == "DONE" for p in written)
    assert len(written) > 10
    open_to_others = [
        f"{p.relative_to(tmp_path)} {stat.filemode(p.stat().st_mode)}"
        for p in written
        if p.stat().st_mode & 0o077
    ]
    assert open_to_others == []


def test_text_log_lines_cannot_be_forged():
    fmt = TextLogFormatter("%(levelname)s %(message)s")
    rec = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "took %s", ("a\nERROR forged\x1b[2J\r.pdf",), None
    )
    assert fmt.format(rec) == "WARNING took a\\nERROR forged\\x1b[2J\\r.pdf"


_NOISY = """
import multiprocessing, os, threading, warnings
from pipeline.cli.common import setup_service_logging
setup_service_logging(quiet=False, json_lines=True)
import logging
logging.getLogger("blankett").info("ready")
warnings.warn("a library warns", UserWarning)
os.write(2, b"leptonica: a C library writes to fd 2\\n")
t = threading.Thread(target=lambda: 1 / 0, name="courier")
t.start(); t.join()
p = multiprocessing.get_context("fork").Process(target=lambda: 1 / 0)
p.start(); p.join()
raise RuntimeError("the main thread dies")
"""


def test_log_json_writes_nothing_but_json():
    res = _run("-c", _NOISY)
    assert res.returncode == 1
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not JSON: {line!r}\n{res.stderr}")
    text = "\n".join(f"{o['message']} {o.get('exception', '')}" for o in parsed)
    for said in (
        "ready",
        "a library warns",
        "leptonica: a C library writes to fd 2",
        "ZeroDivisionError",
        "the main thread dies",
    ):
        assert said in text
    # A traceback from the main thread or a thread is one record, not a line each.
    assert sum("RuntimeError" in o.get("exception", "") for o in parsed) == 1


def test_watch_refuses_to_start_without_its_ocr_language_data(tmp_path: Path):
    cfg = service_config(tmp_path)
    cfg = cfg.model_copy(
        update={"ocr": cfg.ocr.model_copy(update={"tessdata": tmp_path / "no-tessdata"})}
    )
    path = write_config(cfg, tmp_path / "service.yaml")
    res = _run("-m", "pipeline.cli.main", "watch", "--until-idle", "-c", str(path))
    assert res.returncode == 2
    assert "no-tessdata" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was made
