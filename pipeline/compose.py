"""The one place adapters are chosen: config ``kind`` -> factory, and the process context.

A ``Context`` holds what a worker process reuses across files: templates, the catalog
of reference features, matchers and the OCR engine. It is built on demand (never at
import time) and closed when the work is done.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from pipeline.config import Config, OcrConfig
from pipeline.matching import Matcher
from pipeline.ports import OcrEngine, RecordStore
from pipeline.stages.identify import Catalog, build_catalog
from pipeline.templates.load import Template, load_templates


def _tesserocr(cfg: OcrConfig, dpi: int) -> OcrEngine:
    from pipeline.adapters.tesserocr_engine import TesserocrEngine

    return TesserocrEngine(cfg.tessdata, dpi)


def _pytesseract(cfg: OcrConfig, dpi: int) -> OcrEngine:
    from pipeline.adapters.pytesseract_engine import PytesseractEngine

    return PytesseractEngine(cfg.tessdata, dpi)


ENGINES: Mapping[str, Callable[[OcrConfig, int], OcrEngine]] = {
    "tesserocr": _tesserocr,
    "pytesseract": _pytesseract,
}


def build_engine(cfg: Config) -> OcrEngine:
    # One thread per Tesseract: parallelism comes from worker processes, and OpenMP
    # threads inside each would fight over the same cores.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    return ENGINES[cfg.ocr.kind](cfg.ocr, cfg.normalize.dpi)


def build_store(cfg: Config) -> RecordStore:
    from pipeline.adapters.sql_store import SqlRecordStore

    return SqlRecordStore(cfg.database_url)


def build_matchers(cfg: Config) -> tuple[Matcher, Matcher]:
    a = cfg.align
    orb = Matcher(features=a.features, levels=a.levels, factor=a.downscale, ratio=a.ratio)
    sift = Matcher(
        features=a.features, levels=a.levels, factor=a.downscale, ratio=a.ratio, method="sift"
    )
    return orb, sift


@dataclass(frozen=True, eq=False)
class Context:
    cfg: Config
    templates: tuple[Template, ...]
    catalog: Catalog
    orb: Matcher
    sift: Matcher
    engine: OcrEngine
    store: RecordStore | None


@contextmanager
def open_context(
    cfg: Config,
    *,
    store: bool = True,
    templates: tuple[Template, ...] | None = None,
) -> Iterator[Context]:
    if templates is None:
        templates = load_templates(cfg.templates_dir, cfg.normalize.dpi)
    orb, sift = build_matchers(cfg)
    catalog = build_catalog(templates, orb)
    engine = build_engine(cfg)
    rec_store = build_store(cfg) if store else None
    try:
        yield Context(cfg, templates, catalog, orb, sift, engine, rec_store)
    finally:
        engine.close()
        if rec_store is not None:
            rec_store.close()
