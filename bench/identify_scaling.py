"""Identification cost with 2 templates against 100: the prefilter keeps it near-flat.

Builds in-memory templates: the project's two sample forms plus 98 random forms of the
same family (same header, fonts and box style, the hardest case for a prefilter), then
identifies the same scans against the small and the large catalog, alternating, and
prints medians and the ratio. Not run by CI.

    .venv/bin/python bench/identify_scaling.py [--scans 12] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from pipeline.compose import build_matchers
from pipeline.config import load_config
from pipeline.records import Page, frozen_image
from pipeline.samplegen.build import fill, template_dict
from pipeline.samplegen.degrade import ScanStyle, scan_like
from pipeline.samplegen.forms import all_forms
from pipeline.samplegen.random_forms import random_form
from pipeline.samplegen.render import filled_pdf, rasterize, reference_pdf
from pipeline.stages.identify import build_catalog, identify
from pipeline.templates.load import Template
from pipeline.templates.schema import TemplateSpec

ROOT = Path(__file__).resolve().parent.parent


def in_memory(form) -> Template:  # type: ignore[no-untyped-def]
    refs = tuple(frozen_image(r) for r in rasterize(reference_pdf(form)))
    spec = TemplateSpec.model_validate(template_dict(form))
    return Template(spec=spec, folder=Path("."), dpi=300, references=refs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scans", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--templates", type=int, default=100)
    args = ap.parse_args()
    cfg = load_config(ROOT / "config.yaml")
    orb, _ = build_matchers(cfg)
    base = tuple(in_memory(f) for f in all_forms())
    extra = tuple(in_memory(random_form(s)) for s in range(args.templates - len(base)))
    small, large = build_catalog(base, orb), build_catalog(base + extra, orb)
    rng = random.Random(5)
    pages = []
    forms = all_forms()
    for i in range(args.scans):
        form = forms[i % len(forms)]
        clean = rasterize(filled_pdf(form, fill(form, rng), rng))
        for n, img in enumerate(clean, start=1):
            scan = scan_like(img, rng, ScanStyle(upside_down=i % 4 == 3))[0]
            pages.append((form.id, n, Page(n, frozen_image(scan), 300, False, "raster")))
    feats = [orb.detect(p.image) for _, _, p in pages]
    times: dict[str, list[float]] = {"2 templates": [], f"{args.templates} templates": []}
    wrong = 0
    for _ in range(args.repeat):
        for name, cat in zip(times, (small, large), strict=True):
            t0 = time.perf_counter()
            for (fid, n, page), f in zip(pages, feats, strict=True):
                ident, _, _ = identify(page, f, cat, orb, cfg.identify)
                wrong += (ident.template_id, ident.template_page) != (fid, n)
            times[name].append((time.perf_counter() - t0) / len(pages) * 1000)
    print(
        f"{len(pages)} scanned pages, {args.repeat} rounds; catalog pages: "
        f"{len(small.pages)} and {len(large.pages)}; wrong identifications: {wrong}"
    )
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, m in med.items():
        print(f"  {k:14} median {m:6.1f} ms per page (identify only, features computed once)")
    a, b = med.values()
    print(f"  ratio: {b / a:.2f}x")


if __name__ == "__main__":
    main()
