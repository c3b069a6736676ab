"""Benchmark runner: accuracy, straight-through rate, speed; pipeline against the usual
approach and against the physical floor, in one run. Not run by CI.

    .venv/bin/python bench/run.py bench/out/corpus [--baseline-pages 6] [--plots docs/img]

Reads a corpus made by bench/corpus.py. Prints markdown tables and writes
bench/out/results.json and PNG plots.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.compose import Context, open_context
from pipeline.config import Config, load_config
from pipeline.evaluate import (
    FieldScore,
    expected_for,
    mark_fields,
    score_file,
    straight_through,
    summarize,
)
from pipeline.ports import OcrEngine, OcrHints, OcrResult
from pipeline.records import Gray
from pipeline.run import StageClock, process_file
from pipeline.stages.extract import hints_for
from pipeline.stages.ingest import ingest
from pipeline.stages.normalize import normalize
from pipeline.templates.schema import MARK_TYPES

HERE = Path(__file__).resolve().parent
THRESHOLDS = [round(x, 2) for x in np.arange(0.0, 1.0001, 0.02)]


class TimedEngine:
    """Wraps the OCR engine to time it apart from the rest of extraction."""

    def __init__(self, engine: OcrEngine, clock: StageClock):
        self.engine, self.clock, self.name = engine, clock, engine.name

    def read(self, image: Gray, hints: OcrHints) -> OcrResult:
        with self.clock("ocr"):
            return self.engine.read(image, hints)

    def close(self) -> None:
        self.engine.close()


def corpus_files(root: Path) -> list[tuple[str, str, Path]]:
    out = []
    for level_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "templates"):
        for form_dir in sorted(p for p in level_dir.iterdir() if p.is_dir()):
            for f in sorted(form_dir.iterdir()):
                if f.suffix in (".pdf", ".tif") and expected_for(f) is not None:
                    out.append((level_dir.name, form_dir.name, f))
    return out


def config_for(corpus: Path, data: Path) -> Config:
    cfg = load_config(HERE.parent / "config.yaml")
    return cfg.model_copy(
        update={
            "templates_dir": corpus / "templates",
            "data_dir": data,
            "database_url": f"sqlite:///{data / 'bench.sqlite3'}",
        }
    )


# -- the pipeline, one worker, with per-stage clocks -----------------------------------------


def run_pipeline(ctx: Context, files: list[tuple[str, str, Path]]) -> dict[str, Any]:
    marks = mark_fields(ctx.templates)
    per_file: dict[str, Any] = {}
    clock = StageClock()
    timed = TimedEngine(ctx.engine, clock)
    tctx = Context(**{**ctx.__dict__, "engine": timed})
    for level, form, path in files:
        t0 = time.perf_counter()
        records = process_file(path, tctx, clock)
        dt = time.perf_counter() - t0
        recs, fields = score_file(path, expected_for(path) or [], records, marks)
        pages = sum(len(r.pages) for r in records) or len(
            (expected_for(path) or [{}])[0].get("pages", [1])
        )
        per_file[str(path)] = {
            "level": level,
            "form": form,
            "seconds": dt,
            "pages": pages,
            "records": recs,
            "fields": fields,
        }
    return {"files": per_file, "stages": dict(clock.seconds)}


# -- all cores ------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init(corpus: str, data: str) -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    cv2.setNumThreads(1)
    cm = open_context(config_for(Path(corpus), Path(data)))
    _WORKER["ctx"] = cm.__enter__()


def _work(path: str) -> tuple[int, int]:
    records = process_file(Path(path), _WORKER["ctx"])
    return sum(len(r.pages) for r in records), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_parallel(corpus: Path, data: Path, files: list[Path], workers: int) -> dict[str, Any]:
    # spawn, not fork: a worker's peak memory is then its own, not the parent's.
    with mp.get_context("spawn").Pool(workers, _init, (str(corpus), str(data))) as pool:
        pool.map(_work, [str(files[0])] * workers)  # warm-up: every worker built its context
        t0 = time.perf_counter()
        results = pool.map(_work, [str(f) for f in files], chunksize=1)
        dt = time.perf_counter() - t0
    pages = sum(r[0] for r in results)
    return {
        "workers": workers,
        "pages": pages,
        "seconds": dt,
        "pages_per_s": pages / dt,
        "peak_rss_mb": max(r[1] for r in results) / 1024,
    }


# -- baseline and floor ----------------------------------------------------------------------


def run_baseline(ctx: Context, files: list[tuple[str, str, Path]]) -> dict[str, Any]:
    from baseline import Baseline

    base = Baseline(str(ctx.cfg.ocr.tessdata))
    by_id = {t.id: t for t in ctx.templates}
    out = {}
    for _level, _form, path in files:
        exp = (expected_for(path) or [])[0]
        template = by_id[exp["template"]]
        t0 = time.perf_counter()
        pages = normalize(ingest(path, ctx.cfg.limits), ctx.cfg.normalize, ctx.cfg.limits)
        values = base.read(pages, template)
        dt = time.perf_counter() - t0
        kinds = {f.name: f.type for f in template.spec.fields}
        fields = [
            FieldScore(
                str(path),
                template.id,
                n,
                "mark" if kinds.get(n) in MARK_TYPES or isinstance(v, bool) else "text",
                v,
                values.get(n),
                False,
                1.0,
                False,
            )
            for n, v in exp["fields"].items()
        ]
        out[str(path)] = {"seconds": dt, "pages": len(pages), "fields": fields}
    return out


def run_floor(ctx: Context, files: list[tuple[str, str, Path]]) -> dict[str, Any]:
    """Decode plus one OCR pass over only the filled text fields' pixels, cut with the
    true transform: what no pipeline can beat on this machine with this engine."""
    by_id = {t.id: t for t in ctx.templates}
    out = {}
    for _, _, path in files:
        truth = json.loads(path.with_name(path.name + ".expected.json").read_text())
        template = by_id[truth["records"][0]["template"]]
        t0 = time.perf_counter()
        pages = normalize(ingest(path, ctx.cfg.limits), ctx.cfg.normalize, ctx.cfg.limits)
        rescale = np.diag([300 / truth["dpi"], 300 / truth["dpi"], 1.0])
        s = template.scale()
        for number, page in enumerate(pages, start=1):
            h_true = rescale @ np.array(truth["transform"][number - 1])
            for f in template.spec.page_fields(number):
                # Only what was written: the floor reads the data, nothing else.
                if (
                    f.type in MARK_TYPES
                    or f.box is None
                    or not truth["records"][0]["fields"].get(f.name)
                ):
                    continue
                x, y, w, h = (round(v * s) for v in f.box)
                t = np.array([[1, 0, x], [0, 1, y], [0, 0, 1]], np.float64)
                crop = cv2.warpPerspective(
                    page.image,
                    h_true @ t,
                    (w, h),
                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                    borderValue=255,
                )
                ctx.engine.read(crop, hints_for(f, template, ctx.cfg.ocr))
        out[str(path)] = {"seconds": time.perf_counter() - t0, "pages": len(pages)}
    return out


# -- report ----------------------------------------------------------------------------------


def pct(a: float) -> str:
    return f"{100 * a:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument(
        "--baseline-pages",
        type=int,
        default=6,
        help="pages per form and level also run through the baseline",
    )
    ap.add_argument("--plots", type=Path, default=HERE / "out")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--replot", action="store_true", help="only redraw the plots from bench/out/results.json"
    )
    args = ap.parse_args()
    if args.replot:
        saved = json.loads((HERE / "out" / "results.json").read_text())
        plots(args.plots, saved["curves"], saved["speed"], saved["threshold"])
        return
    cv2.setNumThreads(1)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    data = HERE / "out" / "data"
    cfg = config_for(args.corpus, data)
    files = corpus_files(args.corpus)
    print(
        f"# {len(files)} files; machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with open_context(cfg) as ctx:
        pipe = run_pipeline(ctx, files)
        # The same pages for the baseline and the floor, a few per form and level.
        chosen: dict[tuple[str, str], list[tuple[str, str, Path]]] = defaultdict(list)
        for item in files:
            key = (item[0], item[1])
            if sum(pipe["files"][str(p)]["pages"] for _, _, p in chosen[key]) < args.baseline_pages:
                chosen[key].append(item)
        subset = [x for v in chosen.values() for x in v]
        floor = run_floor(ctx, subset)
        base = run_baseline(ctx, subset)
    par1 = run_parallel(args.corpus, data, [p for _, _, p in files], 1)
    parn = run_parallel(args.corpus, data, [p for _, _, p in files], args.workers)
    report(args, cfg, files, pipe, base, floor, subset, par1, parn)


def report(
    args: Any,
    cfg: Config,
    files: Any,
    pipe: Any,
    base: Any,
    floor: Any,
    subset: Any,
    par1: Any,
    parn: Any,
) -> None:
    thr = cfg.review.threshold
    levels = sorted({lv for lv, _, _ in files}, key=["clean", "office", "fax", "harsh"].index)
    forms = sorted({fm for _, fm, _ in files})
    results: dict[str, Any] = {"threshold": thr, "levels": {}, "speed": {}}
    print("\n## Accuracy (pipeline)\n")
    print(
        "| level | form | pages | identified | text exact % | chars % | checkboxes % | "
        f"straight-through % @{thr} | residual error % | wrong & unflagged |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    curves = {}
    for lv in levels:
        all_fields: list[FieldScore] = []
        for fm in [*forms, "all"]:
            sel = [
                v
                for v in pipe["files"].values()
                if v["level"] == lv and (fm == "all" or v["form"] == fm)
            ]
            if not sel:
                continue
            recs = [r for v in sel for r in v["records"]]
            fields = [f for v in sel for f in v["fields"]]
            s = summarize(recs, fields)
            ((_, stp, resid),) = straight_through(fields, [thr])
            wrong_text = {}
            for f in fields:
                if not f.exact:
                    wrong_text[f.name] = wrong_text.get(f.name, 0) + 1
            row = {
                "pages": sum(v["pages"] for v in sel),
                "identified": s.records_right,
                "records": s.records,
                "text_exact": s.text_exact / s.text_fields if s.text_fields else 1.0,
                "chars": s.char_accuracy,
                "marks": s.marks_right / s.marks if s.marks else 1.0,
                "stp": stp,
                "residual": resid,
                "wrong_unflagged": s.wrong_unflagged,
                "worst_fields": sorted(wrong_text.items(), key=lambda kv: -kv[1])[:6],
            }
            results["levels"].setdefault(lv, {})[fm] = row
            print(
                f"| {lv} | {fm} | {row['pages']} | {s.records_right}/{s.records} | "
                f"{pct(row['text_exact'])} | {pct(row['chars'])} | {pct(row['marks'])} | "
                f"{pct(stp)} | {pct(resid)} | {s.wrong_unflagged} |"
            )
            if fm == "all":
                all_fields = fields
        curves[lv] = straight_through(all_fields, THRESHOLDS)
    results["curves"] = {lv: c for lv, c in curves.items()}

    # Pair by pair on the same pages.
    sub = [str(p) for _, _, p in subset]
    pipe_t = sum(pipe["files"][p]["seconds"] for p in sub)
    pages = sum(pipe["files"][p]["pages"] for p in sub)
    base_t = sum(base[p]["seconds"] for p in sub)
    floor_t = sum(floor[p]["seconds"] for p in sub)
    pf = [f for p in sub for f in pipe["files"][p]["fields"]]
    bf = [f for p in sub for f in base[p]["fields"]]
    pt = [f for f in pf if f.kind == "text"]
    bt = [f for f in bf if f.kind == "text"]
    p_exact = sum(f.exact for f in pt) / len(pt)
    b_exact = sum(f.exact for f in bt) / len(bt)
    ((_, p_stp, p_res),) = straight_through(pf, [thr])
    b_res = sum(not f.exact for f in bf) / len(bf)  # it accepts everything
    speed = {
        "pages_compared": pages,
        "pipeline_pages_per_s": pages / pipe_t,
        "baseline_pages_per_s": pages / base_t,
        "floor_pages_per_s": pages / floor_t,
        "speed_ratio": base_t / pipe_t,
        "floor_fraction": floor_t / pipe_t,
        "text_exact_pipeline": p_exact,
        "text_exact_baseline": b_exact,
        "residual_pipeline": p_res,
        "residual_baseline": b_res,
        "stp_pipeline": p_stp,
        "one_worker": par1,
        "all_cores": parn,
        "stage_ms_per_page": {
            k: 1000 * v / sum(x["pages"] for x in pipe["files"].values())
            for k, v in pipe["stages"].items()
        },
    }
    results["speed"] = speed
    print(f"\n## Against the usual approach, the same {pages} pages (all levels)\n")
    print("| | pipeline | baseline | ratio |\n|---|---|---|---|")
    print(
        f"| pages/s (one core) | {speed['pipeline_pages_per_s']:.2f} | "
        f"{speed['baseline_pages_per_s']:.2f} | {speed['speed_ratio']:.1f}x faster |"
    )
    print(
        f"| text exact % | {pct(p_exact)} | {pct(b_exact)} | "
        f"{p_exact / b_exact if b_exact else float('inf'):.2f}x |"
    )
    print(
        f"| residual error % among auto-accepted | {pct(p_res)} (STP {pct(p_stp)} %) | "
        f"{pct(b_res)} (accepts all) | {b_res / p_res if p_res else float('inf'):.1f}x fewer |"
    )
    print(
        f"\nPhysical floor (decode + one OCR pass over text fields cut with the true "
        f"transform): {speed['floor_pages_per_s']:.2f} pages/s; the pipeline runs at "
        f"{pct(speed['floor_fraction'])} % of it."
    )
    print(
        f"\nThroughput over all {par1['pages']} pages: 1 worker {par1['pages_per_s']:.2f} "
        f"pages/s, {parn['workers']} workers {parn['pages_per_s']:.2f} pages/s; peak memory "
        f"per worker {parn['peak_rss_mb']:.0f} MB."
    )
    print(
        "\nPer stage, ms per page: "
        + ", ".join(f"{k} {v:.1f}" for k, v in speed["stage_ms_per_page"].items())
    )
    out = HERE / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    plots(args.plots, curves, speed, thr)


def plots(folder: Path, curves: dict[str, Any], speed: dict[str, Any], thr: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for lv, c in curves.items():
        ax.plot([100 * x[1] for x in c], [100 * x[2] for x in c], marker=".", label=lv)
        op = min(c, key=lambda x: abs(x[0] - thr))
        ax.scatter([100 * op[1]], [100 * op[2]], s=80, edgecolor="black", zorder=3)
    ax.axhline(0.5, color="grey", ls="--", lw=1)
    ax.axvline(85, color="grey", ls="--", lw=1)
    ax.set_xlabel("straight-through rate, % of fields accepted without a person")
    ax.set_ylabel("residual error, % of accepted fields that are wrong")
    ax.set_title(f"Straight-through against residual error (dots: threshold {thr})")
    ax.legend(title="scan level")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "bench-straight-through.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = [
        "baseline\n(1 core)",
        "pipeline\n(1 core)",
        f"pipeline\n({speed['all_cores']['workers']} cores)",
        "physical floor\n(1 core)",
    ]
    vals = [
        speed["baseline_pages_per_s"],
        speed["one_worker"]["pages_per_s"],
        speed["all_cores"]["pages_per_s"],
        speed["floor_pages_per_s"],
    ]
    bars = ax.bar(names, vals, color=["#999999", "#2b6cb0", "#1a4971", "#c0c0c0"])
    ax.bar_label(bars, fmt="%.2f")
    ax.set_ylabel("pages per second")
    ax.set_title("Throughput")
    fig.tight_layout()
    fig.savefig(folder / "bench-throughput.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 2.4))
    left = 0.0
    stages = speed["stage_ms_per_page"]
    order = ["ingest", "normalize", "identify", "align", "ocr", "extract", "validate"]
    for k in [k for k in order if k in stages]:
        v = stages[k] - (stages.get("ocr", 0) if k == "extract" else 0)
        label = "extract (crops, dropout, marks)" if k == "extract" else k
        ax.barh([0], [v], left=left, label=f"{label} {v:.0f} ms")
        left += v
    ax.set_yticks([])
    ax.set_xlabel("ms per page, one core")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    ax.set_title("Where a page's time goes")
    fig.tight_layout()
    fig.savefig(folder / "bench-stages.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
