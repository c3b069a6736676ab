"""The command line as users and other tools call it: output contract, exit codes, store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, TEMPLATES

pytestmark = pytest.mark.integration  # every test runs blankett in a subprocess

BLANKETT = [sys.executable, "-m", "pipeline.cli.main"]
CONTRACT = {"file", "sha256", "status", "template", "pages", "fields", "issues"}
FIELD_KEYS = {"value", "text", "confidence", "needs_review", "issues"}


def write_config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"templates_dir: {TEMPLATES}\ndata_dir: data\n"
        "database_url: sqlite:///data/blankett.sqlite3\n" + extra,
        encoding="utf-8",
    )
    return cfg


def blankett(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(TEMPLATES.parent)}
    return subprocess.run(
        [*BLANKETT, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def lines(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


@pytest.mark.tesseract
@pytest.mark.slow
def test_process_prints_the_contract_and_keeps_no_state(tmp_path: Path):
    cfg = write_config(tmp_path)
    files = [SAMPLES / "mixed" / "two-forms-and-blank.pdf", SAMPLES / "mixed" / "unknown-form.jpg"]
    res = blankett("process", *files, "-c", cfg)
    assert res.returncode == 0, res.stderr
    out = lines(res.stdout)
    assert [(r["status"], r["pages"]) for r in out] == [
        ("accepted", [1]),
        ("accepted", [3, 4]),
        ("unidentified", [1]),
    ]
    for r in out:
        assert set(r) == CONTRACT
        for f in r["fields"].values():
            assert set(f) == FIELD_KEYS and 0 <= f["confidence"] <= 1
    assert out[0]["template"] == {"id": "parkeringstillstand", "version": 1}
    assert out[0]["sha256"] == out[1]["sha256"] and len(out[0]["sha256"]) == 64
    assert "pages/s" in res.stderr

    assert not (tmp_path / "data" / "blankett.sqlite3").exists()  # state is the service's
    assert all(f.is_file() for f in files)  # nothing moved


@pytest.mark.tesseract
@pytest.mark.slow
def test_a_failed_file_does_not_stop_the_others_and_exits_1(tmp_path: Path):
    cfg = write_config(tmp_path)
    empty = tmp_path / "tom.pdf"
    empty.write_bytes(b"")
    res = blankett("process", empty, SAMPLES / "mixed" / "unknown-form.jpg", "-c", cfg)
    assert res.returncode == 1
    first, second = lines(res.stdout)
    assert first["status"] == "failed" and first["reason"] == "empty_file"
    assert str(empty) in first["message"] or "empty" in first["message"]
    assert second["status"] == "unidentified"
    assert "Traceback" not in res.stderr
    assert empty.exists()


def test_usage_and_config_errors_exit_2(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("ocr: {kind: nope}\n")
    res = blankett("process", SAMPLES, "-c", bad)
    assert res.returncode == 2 and "ocr.kind" in res.stderr and "Traceback" not in res.stderr
    assert blankett("process").returncode == 2
    assert blankett("process", tmp_path, "-c", write_config(tmp_path)).returncode == 2  # no files


def test_broken_template_is_a_configuration_error(tmp_path: Path):
    tdir = tmp_path / "templates" / "trasig"
    tdir.mkdir(parents=True)
    (tdir / "template.yaml").write_text("id: trasig\npages: []\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"templates_dir: {tmp_path / 'templates'}\n")
    res = blankett("process", SAMPLES / "mixed" / "unknown-form.jpg", "-c", cfg)
    assert res.returncode == 2
    assert "trasig" in res.stderr and "pages" in res.stderr


def test_template_schema_and_list(tmp_path: Path):
    res = blankett("template", "schema")
    assert res.returncode == 0
    assert json.loads(res.stdout)["title"] == "TemplateSpec"
    res = blankett("template", "list", "-c", write_config(tmp_path))
    assert "parkeringstillstand\tv1" in res.stdout


@pytest.mark.tesseract
@pytest.mark.slow
def test_pytesseract_engine_reads_the_same_form(tmp_path: Path):
    cfg = write_config(tmp_path)
    sample = SAMPLES / "parkeringstillstand" / "scan-01.pdf"
    fast = lines(blankett("process", sample, "-c", cfg).stdout)[0]
    res = blankett("process", sample, "-c", cfg, "--engine", "pytesseract")
    assert res.returncode == 0, res.stderr
    slow = lines(res.stdout)[0]
    assert "engine pytesseract" in res.stderr
    same = sum(fast["fields"][k]["value"] == v["value"] for k, v in slow["fields"].items())
    assert same >= 0.9 * len(slow["fields"])


@pytest.mark.tesseract
def test_status_records_and_retry_commands(tmp_path: Path, ctx):
    from pipeline.db.connect import open_state_db
    from tests.service_kit import Ledger, run_service, service_config
    from tests.service_kit import write_config as write_service_config

    cfg = service_config(tmp_path)
    path = write_service_config(cfg, tmp_path / "service.yaml")
    ledger = Ledger(cfg.service.inbox[0])
    ledger.drop("a.png", (SAMPLES / "parkeringstillstand" / "scan-03-upside-down.png").read_bytes())
    ledger.drop("empty.pdf", b"")
    db = open_state_db(cfg.database_url)
    run_service(cfg, db, ctx)
    db.dispose()

    st = blankett("status", "-c", path)
    assert st.returncode == 0, st.stderr
    assert "documents    processed 1, quarantined 1" in st.stdout
    assert "empty_file" in st.stdout and "blankett retry" in st.stdout
    js = json.loads(blankett("status", "-c", path, "--json").stdout)
    assert js["records"] == {"delivered": 1} and js["inbox_files"] == 0

    rec = blankett("records", "-c", path)
    assert rec.returncode == 0 and "parkeringstillstand" in rec.stdout and "a.png" in rec.stdout
    (line,) = lines(blankett("records", "-c", path, "-s", "all", "--json").stdout)
    assert line["status"] == "delivered" and line["fields"]
    assert all("crop" not in f for f in line["fields"].values())

    quarantined = js["recent_failures"][0]["document"]
    again = blankett("retry", str(quarantined), "-c", path)
    assert again.returncode == 1 and "still empty" in again.stderr
    wrong = blankett("retry", "1", "-c", path)
    assert wrong.returncode == 1 and "only failed or quarantined" in wrong.stderr
