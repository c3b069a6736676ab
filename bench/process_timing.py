"""Whole-process timing of ``blankett process`` over the committed samples, per OCR engine.

Runs the real command (start-up included) several times per engine, alternating engines
so that machine noise hits both alike, and prints medians and the ratio. Not run by CI.

    .venv/bin/python bench/process_timing.py [--runs 5] [SAMPLES...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run(engine: str, samples: list[str]) -> tuple[float, int]:
    cmd = [
        sys.executable,
        "-m",
        "pipeline.cli.main",
        "process",
        *samples,
        "--engine",
        engine,
        "-c",
        str(ROOT / "config.yaml"),
    ]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - t0
    if res.returncode not in (0, 1):
        sys.exit(f"{engine}: exit {res.returncode}\n{res.stderr}")
    pages = sum(len(json.loads(x)["pages"]) for x in res.stdout.splitlines() if x.strip())
    return elapsed, pages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("samples", nargs="*", default=[str(ROOT / "forms_samples")])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    times: dict[str, list[float]] = {"tesserocr": [], "pytesseract": []}
    pages = 0
    for _ in range(args.runs):
        for engine in times:
            t, pages = one_run(engine, args.samples)
            times[engine].append(t)
    print(f"{pages} pages per run, {args.runs} runs per engine (start-up included)")
    med = {e: statistics.median(ts) for e, ts in times.items()}
    for e, m in med.items():
        print(
            f"  {e:12} median {m:6.2f} s  {pages / m:5.2f} pages/s  "
            f"(min {min(times[e]):.2f}, max {max(times[e]):.2f})"
        )
    print(f"  ratio pytesseract/tesserocr time: {med['pytesseract'] / med['tesserocr']:.1f}x")


if __name__ == "__main__":
    main()
