"""Memory and time of long documents: one worker reading 10, 100 and 300 pages of a
generated PDF and multi-frame TIFF, and one review-UI page image of them.

Each measurement runs in a fresh process (peak RSS is per process) and is set against a
baseline measured in the same run:

- ``worker``: ``run.read_file`` (pages streamed through the stages, the real OCR engine)
  against ``hold``, the same reading fed every page decoded at once, as normalize did
  before issue 10;
- ``thumb``: ``pageimage.page_jpeg`` (one page, straight at the width asked) of the
  middle page against ``thumb-hold``, the whole document normalized for one page, as the
  review UI did before. The page image cache is cold in every process.

With ``--against DIR`` (a checkout of older code, e.g. ``git archive <rev> pipeline | tar
-x -C DIR``) ``read_file`` is also run from there. Pages are filled parking-permit forms
(one record each) from the project's generator. Not run by CI; heavy at 300 pages.

    .venv/bin/python bench/page_memory.py [--pages 10,100,300] [--out bench/out/pages]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_inputs(out: Path, n: int) -> dict[str, Path]:
    """``n`` scan-like pages of filled forms as a JPEG-per-page PDF and a G4 TIFF."""
    from pipeline.samplegen.build import g4_tiff, make_instance, scanned_pdf
    from pipeline.samplegen.degrade import ScanStyle
    from pipeline.samplegen.forms import parkering

    files = {"pdf": out / f"forms-{n}.pdf", "tiff": out / f"forms-{n}.tif"}
    if all(p.exists() for p in files.values()):
        return files
    rng = random.Random(n)
    distinct = [make_instance(parkering(), rng, ScanStyle()).pages[0] for _ in range(5)]
    pages = [distinct[i % len(distinct)] for i in range(n)]
    out.mkdir(parents=True, exist_ok=True)
    files["pdf"].write_bytes(scanned_pdf(pages))
    files["tiff"].write_bytes(g4_tiff(pages))
    return files


def _peak_mb() -> float:
    """This process's peak RSS. Not getrusage: Linux carries ru_maxrss over exec, so a
    child would report its parent's peak; VmHWM belongs to this address space alone."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, path: Path, page: int) -> None:
    """One measurement in this (fresh) process; prints one JSON line."""
    from pipeline.config import load_config

    data = Path(tempfile.mkdtemp(prefix="blankett-bench-"))
    cfg = load_config(ROOT / "config.yaml").model_copy(update={"data_dir": data})
    if mode in ("thumb", "thumb-hold"):
        import pipeline.stages.normalize  # noqa: F401  (imports are not what is timed)

        start = _peak_mb()
        t0 = time.perf_counter()
        if mode == "thumb":
            from pipeline.pageimage import page_jpeg

            page_jpeg(path, page, 900, cfg)
        else:
            _thumb_hold(path, page, cfg)
        seconds = time.perf_counter() - t0
        print(json.dumps({"peak_mb": _peak_mb(), "start_mb": start, "seconds": seconds}))
        return
    from pipeline.compose import open_context
    from pipeline.run import read_file

    with open_context(cfg) as ctx:
        start = _peak_mb()
        t0 = time.perf_counter()
        if mode == "hold":
            from pipeline.run import read_pages
            from pipeline.stages.ingest import ingest
            from pipeline.stages.normalize import normalize

            doc = ingest(path, cfg.limits)
            records = read_pages(doc, normalize(doc, cfg.normalize, cfg.limits), ctx)
        else:
            records = read_file(path, ctx)
        seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {"peak_mb": _peak_mb(), "start_mb": start, "seconds": seconds, "records": len(records)}
        )
    )


def _thumb_hold(path: Path, page: int, cfg: object) -> None:
    import cv2

    from pipeline.imaging import downscale
    from pipeline.stages.ingest import ingest
    from pipeline.stages.normalize import normalize

    c = cfg  # a Config; typed loosely so that older code under --against also runs
    pages = normalize(ingest(path, c.limits), c.normalize, c.limits)  # type: ignore[attr-defined]
    img = pages[page - 1].image
    cv2.imencode(".jpg", downscale(img, 900 / img.shape[1]))


def measure(mode: str, path: Path, page: int = 1, src: Path = ROOT) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, __file__, "--child", mode, str(path), "--page", str(page)]
    if src != ROOT:  # older code has no read_pages: only its read_file runs
        cmd[1:2] = ["-c", _OLD_CHILD, __file__]
    # -c puts the working folder first on the path: run older code from its own folder.
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=src, check=False)
    if res.returncode != 0:
        sys.exit(f"{mode} {path.name}: exit {res.returncode}\n{res.stderr[-2000:]}")
    out: dict[str, float] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


# read_file from an older checkout (its pipeline package first on the path).
_OLD_CHILD = """
import json, sys, tempfile, time
from pathlib import Path
from pipeline.compose import open_context
from pipeline.config import load_config
from pipeline.run import read_file
root = Path(sys.argv[1]).resolve().parent.parent
path = Path(sys.argv[4])
cfg = load_config(root / "config.yaml").model_copy(
    update={"data_dir": Path(tempfile.mkdtemp(prefix="blankett-bench-"))})
def mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
with open_context(cfg) as ctx:
    start = mb(); t0 = time.perf_counter()
    records = read_file(path, ctx)
    seconds = time.perf_counter() - t0
print(json.dumps({"peak_mb": mb(), "start_mb": start, "seconds": seconds,
                  "records": len(records)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pages", default="10,100,300")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "pages")
    ap.add_argument("--thumb-runs", type=int, default=3)
    ap.add_argument("--against", type=Path, help="older code to run read_file from as well")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--page", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("path", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.path, args.page)
        return
    counts = [int(x) for x in args.pages.split(",")]
    print("worker: peak RSS of one process reading the file (MB; growth over the context)")
    print(f"{'file':>16} {'streamed':>14} {'all at once':>14} {'ratio':>7}  records")
    for n in counts:
        for kind, path in make_inputs(args.out, n).items():
            new = measure("stream", path)
            old = measure("hold", path)
            line = (
                f"{kind + ' ' + str(n) + ' p':>16} {_mb(new):>14} {_mb(old):>14} "
                f"{old['peak_mb'] / new['peak_mb']:>6.2f}x  {int(new['records'])}"
            )
            if args.against:
                ref = measure("stream", path, src=args.against)
                line += f"  | older code {_mb(ref)} ({ref['peak_mb'] / new['peak_mb']:.2f}x)"
            print(line, flush=True)
    print(f"\nreview UI: one 900-px page image of the middle page (median of {args.thumb_runs})")
    print(f"{'file':>16} {'one page':>22} {'whole document':>22} {'time':>7} {'memory':>7}")
    for n in counts:
        for kind, path in make_inputs(args.out, n).items():
            mid = max(1, n // 2)
            new = _median([measure("thumb", path, mid) for _ in range(args.thumb_runs)])
            old = _median([measure("thumb-hold", path, mid) for _ in range(args.thumb_runs)])
            print(
                f"{kind + ' ' + str(n) + ' p':>16} {_st(new):>22} {_st(old):>22} "
                f"{old['seconds'] / new['seconds']:>6.0f}x "
                f"{old['peak_mb'] / new['peak_mb']:>6.1f}x",
                flush=True,
            )


def _mb(m: dict[str, float]) -> str:
    return f"{m['peak_mb']:.0f} (+{m['peak_mb'] - m['start_mb']:.0f})"


def _st(m: dict[str, float]) -> str:
    return f"{m['seconds']:.2f} s, {m['peak_mb']:.0f} MB"


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


if __name__ == "__main__":
    main()
