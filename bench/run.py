"""Benchmark runner: accuracy, straight-through rate, speed; pipeline against the usual
approach and against the physical floor, in one run. Not run by CI.

    .venv/bin/python bench/run.py bench/out/corpus [--baseline-pages 6] [--plots docs/img]
        [--workers N] [--no-throughput] [--errors /tmp/blankett-bench-errors.jsonl]
        [--config config.yaml]

Reads a corpus made by bench/corpus.py. Prints markdown tables (report.py): accuracy per
level and form, records straight through against residual error as the threshold is
swept, the reliability of confidence, å/ä/ö lost, the causes of the wrong values. Writes
bench/out/results.json and PNG plots (figures.py); the list of wrong values goes to
--errors, outside the repository.
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
import figures
import numpy as np
import report
from rows import FieldRow, RecordRow, rows_for

from pipeline.compose import open_context
from pipeline.config import Config, load_config
from pipeline.context import Context
from pipeline.evaluate import (
    EXPECTED_SUFFIX,
    FieldScore,
    expected_for,
    mark_fields,
    score_file,
)
from pipeline.ports import OcrEngine, OcrHints, OcrResult
from pipeline.records import Gray
from pipeline.run import StageClock, process_file
from pipeline.stages.extract import hints_for
from pipeline.stages.ingest import ingest
from pipeline.stages.normalize import normalize
from pipeline.templates.schema import MARK_TYPES

HERE = Path(__file__).resolve().parent
OWN_FORMS = ("forskoleplats", "parkeringstillstand")  # older corpora carry no origin


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


def config_for(corpus: Path, data: Path, config: Path | None = None) -> Config:
    cfg = load_config(config or HERE.parent / "config.yaml")
    return cfg.model_copy(
        update={
            "templates_dir": corpus / "templates",
            "data_dir": data,
            "database_url": f"sqlite:///{data / 'bench.sqlite3'}",
        }
    )


# -- the pipeline, one worker, with per-stage clocks -----------------------------------------


def origin_of(path: Path, form: str) -> str:
    """Real or generated, as the corpus wrote it (older corpora: by the form id)."""
    side = json.loads(path.with_name(path.name + EXPECTED_SUFFIX).read_text(encoding="utf-8"))
    return str(side.get("origin") or ("generated" if form in OWN_FORMS else "real"))


def run_pipeline(ctx: Context, files: list[tuple[str, str, Path]]) -> dict[str, Any]:
    marks = mark_fields(ctx.templates)
    templates = {t.id: t for t in ctx.templates}
    per_file: dict[str, Any] = {}
    field_rows: list[FieldRow] = []
    record_rows: list[RecordRow] = []
    clock = StageClock()
    timed = TimedEngine(ctx.engine, clock)
    tctx = Context(**{**ctx.__dict__, "engine": timed})
    for level, form, path in files:
        t0 = time.perf_counter()
        records = process_file(path, tctx, clock)
        dt = time.perf_counter() - t0
        exp = expected_for(path) or []
        recs, fields = score_file(path, exp, records, marks)
        origin = origin_of(path, form)
        fr, rr = rows_for(str(path), level, form, origin, exp, records, fields, templates)
        field_rows += fr
        record_rows += rr
        pages = sum(len(r.pages) for r in records) or len(
            (expected_for(path) or [{}])[0].get("pages", [1])
        )
        per_file[str(path)] = {
            "level": level,
            "form": form,
            "origin": origin,
            "seconds": dt,
            "pages": pages,
            "records": recs,
            "fields": fields,
        }
    return {
        "files": per_file,
        "stages": dict(clock.seconds),
        "field_rows": field_rows,
        "record_rows": record_rows,
    }


# -- all cores ------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init(corpus: str, data: str, config: str) -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    cv2.setNumThreads(1)
    cm = open_context(config_for(Path(corpus), Path(data), Path(config)))
    _WORKER["ctx"] = cm.__enter__()


def _work(path: str) -> tuple[int, int]:
    records = process_file(Path(path), _WORKER["ctx"])
    return sum(len(r.pages) for r in records), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_parallel(
    corpus: Path, data: Path, files: list[Path], workers: int, config: Path
) -> dict[str, Any]:
    # spawn, not fork: a worker's peak memory is then its own, not the parent's.
    args = (str(corpus), str(data), str(config))
    with mp.get_context("spawn").Pool(workers, _init, args) as pool:
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


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument(
        "--baseline-pages",
        type=int,
        default=6,
        help="pages per form and level also run through the baseline (0: none)",
    )
    ap.add_argument("--plots", type=Path, default=HERE / "out")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--no-throughput",
        action="store_true",
        help="skip the timed runs over all pages with 1 and --workers processes",
    )
    ap.add_argument(
        "--errors",
        type=Path,
        default=Path("/tmp/blankett-bench-errors.jsonl"),
        help="where the list of wrong values goes (never commit it)",
    )
    ap.add_argument(
        "--rows",
        type=Path,
        help="also write every scored field (JSON lines) here, for analysis (never commit it)",
    )
    ap.add_argument("--config", type=Path, default=HERE.parent / "config.yaml")
    ap.add_argument(
        "--replot", action="store_true", help="only redraw the plots from bench/out/results.json"
    )
    args = ap.parse_args()
    if args.replot:
        figures.draw_all(args.plots, json.loads((HERE / "out" / "results.json").read_text()))
        return
    cv2.setNumThreads(1)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    data = HERE / "out" / "data"
    cfg = config_for(args.corpus, data, args.config)
    files = corpus_files(args.corpus)
    print(
        f"# {len(files)} files; machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with open_context(cfg) as ctx:
        pipe = run_pipeline(ctx, files)
        if args.rows:
            lines = (json.dumps(r.as_json(), default=str) for r in pipe["field_rows"])
            args.rows.write_text("\n".join(lines) + "\n", encoding="utf-8")
        # The same pages for the baseline and the floor, a few per form and level.
        chosen: dict[tuple[str, str], list[tuple[str, str, Path]]] = defaultdict(list)
        for item in files:
            key = (item[0], item[1])
            if sum(pipe["files"][str(p)]["pages"] for _, _, p in chosen[key]) < args.baseline_pages:
                chosen[key].append(item)
        subset = [x for v in chosen.values() for x in v]
        floor = run_floor(ctx, subset)
        base = run_baseline(ctx, subset)
    paths = [p for _, _, p in files]
    par1 = parn = None
    if not args.no_throughput:
        par1 = run_parallel(args.corpus, data, paths, 1, args.config)
        parn = run_parallel(args.corpus, data, paths, args.workers, args.config)
    results = report.report(cfg, files, pipe, base, floor, subset, par1, parn, args.errors)
    out = HERE / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    figures.draw_all(args.plots, results)


if __name__ == "__main__":
    main()
