"""Seconds per page of this checkout against another commit, in the same run.

Both code states read the same files with the same templates through their own
``pipeline.run.process_file``, in a fresh process per run, alternating so that machine
noise hits both alike; the other commit is checked out into a temporary git worktree.
Start-up (templates, catalogue, word lists: once per worker) is timed apart from the
seconds per page a running service spends. Prints the medians and the ratios. Not run
by CI.

    .venv/bin/python bench/versus.py --base 7e6acd2 --templates /tmp/bc/templates \\
        --runs 5 /tmp/bc/office
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


# Run inside the tree (cwd first on the path: the tree's own ``pipeline``); the API used
# here is the one both code states share.
_TIMER = """
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from pipeline.compose import open_context
from pipeline.config import load_config
from pipeline.run import process_file
cfg = load_config(Path(sys.argv[1]))
with open_context(cfg) as ctx:
    t1 = time.perf_counter()
    pages = sum(len(r.pages) for f in sys.argv[2:] for r in process_file(Path(f), ctx))
    t2 = time.perf_counter()
print(json.dumps({"startup": t1 - t0, "reading": t2 - t1, "pages": pages}))
"""


def one_run(tree: Path, config: Path, files: list[str]) -> dict[str, float]:
    cmd = [sys.executable, "-c", _TIMER, str(config), *files]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, check=False)
    if res.returncode != 0:
        sys.exit(f"{tree}: exit {res.returncode}\n{res.stderr[-2000:]}")
    out: dict[str, float] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def config_in(tree: Path, templates: Path, data: Path) -> Path:
    """The tree's own config.yaml, pointed at the shared templates and a scratch folder."""
    cfg = yaml.safe_load((tree / "config.yaml").read_text(encoding="utf-8")) or {}
    cfg["templates_dir"] = str(templates)
    cfg["data_dir"] = str(data / "data")
    out = data / "config.yaml"
    data.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("files", nargs="+", help="scans or folders of scans")
    ap.add_argument("--base", required=True, help="the commit to compare against")
    ap.add_argument("--templates", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    files = [
        str(p)
        for f in args.files
        for p in (sorted(Path(f).rglob("*")) if Path(f).is_dir() else [Path(f)])
        if p.suffix.lower() in {".pdf", ".tif", ".tiff", ".png", ".jpg", ".jpeg"}
    ]
    with tempfile.TemporaryDirectory(prefix="blankett-versus-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.base],
            check=True,
            capture_output=True,
        )
        try:
            trees = {"base": base, "this": ROOT}
            configs = {
                k: config_in(t, args.templates.resolve(), Path(tmp) / k) for k, t in trees.items()
            }
            runs: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
            for i in range(args.runs):
                for k, tree in trees.items():
                    shutil.rmtree(Path(tmp) / k / "data", ignore_errors=True)
                    r = one_run(tree, configs[k], files)
                    runs[k].append(r)
                    print(f"run {i + 1} {k}: {r['reading']:.1f} s", file=sys.stderr)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                check=False,
                capture_output=True,
            )
    pages = int(runs["this"][0]["pages"])
    print(f"{len(files)} files, {pages} pages per run, {args.runs} runs each")
    med = {
        k: {m: statistics.median(r[m] for r in rs) for m in ("startup", "reading")}
        for k, rs in runs.items()
    }
    for k, m in med.items():
        label = f"{k} ({args.base})" if k == "base" else k
        print(
            f"  {label:20} start-up {m['startup']:5.2f} s   reading {m['reading']:6.2f} s"
            f"   {m['reading'] / max(pages, 1):.3f} s/page"
        )
    print(
        f"  this / base, seconds per page: {med['this']['reading'] / med['base']['reading']:.2f}x"
    )
    print(f"  this / base, start-up: {med['this']['startup'] / med['base']['startup']:.2f}x")


if __name__ == "__main__":
    main()
