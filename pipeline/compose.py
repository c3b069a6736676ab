"""The one place adapters are chosen: config ``kind`` -> factory, and the process context.

OCR engines by ``ocr.kind``, case targets by ``delivery.targets[].kind``; the original
store has one kind for now (a local folder). ``open_context`` builds the ``Context`` a
process reuses across files (templates, the catalog of reference features, matchers and
the OCR engine) on demand, never at import time, and closes it when the work is done.
The dispatcher is the service's own choice (``pipeline.service.dispatch``): compose sits
below the service and never imports it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pipeline.config import (
    Config,
    FolderTargetConfig,
    PytesseractConfig,
    SqlTargetConfig,
    TesserocrConfig,
)
from pipeline.context import Context
from pipeline.matching import Matcher
from pipeline.ports import CaseTarget, OcrEngine
from pipeline.stages.identify import build_catalog
from pipeline.templates.load import Template, load_templates

if TYPE_CHECKING:
    from pipeline.adapters.local_originals import LocalOriginals


def _tesserocr(cfg: TesserocrConfig, dpi: int) -> OcrEngine:
    from pipeline.adapters.tesserocr_engine import TesserocrEngine

    return TesserocrEngine(cfg.tessdata, dpi)


def _pytesseract(cfg: PytesseractConfig, dpi: int) -> OcrEngine:
    from pipeline.adapters.pytesseract_engine import PytesseractEngine

    return PytesseractEngine(cfg.tessdata, dpi)


# Keyed on config.ENGINE_KINDS (tests check every kind has one). Each factory takes its
# own config class; the parameter is Any here only because a mapping cannot say "the
# class whose kind is the key": the key and the factory are written side by side.
ENGINES: Mapping[str, Callable[[Any, int], OcrEngine]] = {
    "tesserocr": _tesserocr,
    "pytesseract": _pytesseract,
}


def build_engine(cfg: Config) -> OcrEngine:
    # One thread per Tesseract: parallelism comes from worker processes, and OpenMP
    # threads inside each would fight over the same cores.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    return ENGINES[cfg.ocr.kind](cfg.ocr, cfg.normalize.dpi)


def build_matchers(cfg: Config) -> tuple[Matcher, Matcher]:
    a = cfg.align
    orb = Matcher(features=a.features, levels=a.levels, factor=a.downscale, ratio=a.ratio)
    sift = Matcher(
        features=a.features, levels=a.levels, factor=a.downscale, ratio=a.ratio, method="sift"
    )
    return orb, sift


@contextmanager
def open_context(
    cfg: Config,
    *,
    templates: tuple[Template, ...] | None = None,
) -> Iterator[Context]:
    if templates is None:
        templates = load_templates(cfg.templates_dir, cfg.normalize.dpi)
    orb, sift = build_matchers(cfg)
    catalog = build_catalog(templates, orb)
    engine = build_engine(cfg)
    try:
        yield Context(cfg, templates, catalog, orb, sift, engine)
    finally:
        engine.close()


def build_originals(cfg: Config) -> LocalOriginals:
    from pipeline.adapters.local_originals import LocalOriginals

    return LocalOriginals(cfg.originals_dir)


def _sql_target(t: SqlTargetConfig) -> CaseTarget:
    from pipeline.adapters.sql_target import SqlCaseTarget

    return SqlCaseTarget(t.name, t.connect_url())


def _folder_target(t: FolderTargetConfig) -> CaseTarget:
    from pipeline.adapters.folder_target import FolderTarget

    return FolderTarget(t.name, t.path)


# Keyed on config.TARGET_KINDS, like ENGINES.
TARGETS: Mapping[str, Callable[[Any], CaseTarget]] = {
    "sql": _sql_target,
    "folder": _folder_target,
}


def build_targets(cfg: Config) -> dict[str, CaseTarget]:
    """Target name -> adapter. A ``url_env`` variable that is not set is a ConfigError."""
    return {t.name: TARGETS[t.kind](t) for t in cfg.delivery.targets}
