"""The one place adapters are chosen: config ``kind`` -> factory, and the process context.

OCR engines by ``ocr.kind``, case targets by ``delivery.targets[].kind``; the original
store has one kind for now (a local folder). ``open_context`` builds the ``Context`` a
process reuses across files (templates, the catalog of reference features, matchers and
the OCR engine) on demand, never at import time, and closes it when the work is done;
it first checks that Tesseract has every language the config and templates need
(``check_ocr_data``, which the service commands also call before they start). The
dispatcher is the service's own choice (``pipeline.service.dispatch``): compose sits
below the service and never imports it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pipeline import calibration, lexicon
from pipeline.calibration import Trust
from pipeline.config import (
    Config,
    FolderTargetConfig,
    PytesseractConfig,
    SqlTargetConfig,
    TesserocrConfig,
)
from pipeline.context import Context
from pipeline.digits import DigitReader
from pipeline.errors import ConfigError
from pipeline.matching import Matcher
from pipeline.ports import CaseTarget, OcrEngine
from pipeline.stages.identify import build_catalog
from pipeline.stages.read_hand import HandReaders
from pipeline.templates.load import Template, load_specs, load_templates
from pipeline.templates.schema import TemplateSpec

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


def ocr_languages(cfg: Config, specs: Iterable[TemplateSpec]) -> set[str]:
    """Every Tesseract language the config and the templates can ask for (``swe+eng``
    counts as both)."""
    wanted = {cfg.ocr.text_lang, cfg.ocr.numeric_lang}
    for spec in specs:
        wanted |= {spec.language} if spec.language else set()
        wanted |= {f.ocr.lang for f in spec.fields if f.ocr.lang}
    return {lang for combo in wanted for lang in combo.split("+") if lang}


def check_ocr_data(cfg: Config, specs: Iterable[TemplateSpec] | None = None) -> None:
    """Refuse to start when ``ocr.tessdata`` lacks a language the config or the templates
    need (``<tessdata>/<lang>.traineddata``): otherwise the service runs and fails every
    document. ``specs`` default to the templates in ``templates_dir``."""
    if specs is None:
        specs = load_specs(cfg.templates_dir).values()
    tessdata = cfg.ocr.tessdata
    if not tessdata.is_dir():
        raise ConfigError(
            "ocr.tessdata: the Tesseract language data folder does not exist; install "
            "Tesseract's language packs or point ocr.tessdata at their folder",
            path=tessdata,
        )
    missing = sorted(
        lang
        for lang in ocr_languages(cfg, specs)
        if not (tessdata / f"{lang}.traineddata").is_file()
    )
    if missing:
        files = ", ".join(f"{lang}.traineddata" for lang in missing)
        raise ConfigError(
            f"ocr.tessdata: no language data for {', '.join(missing)} (no {files} in this "
            "folder), needed by the config's ocr languages or a template; install the "
            "language packs (Debian: tesseract-ocr-<lang>) or fix ocr.tessdata",
            path=tessdata,
        )


def build_engine(cfg: Config) -> OcrEngine:
    # One thread per Tesseract: parallelism comes from worker processes, and OpenMP
    # threads inside each would fight over the same cores.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    return ENGINES[cfg.ocr.kind](cfg.ocr, cfg.normalize.dpi)


def build_hand() -> HandReaders:
    """The readers besides Tesseract: the shipped digit model (comb cells written by
    hand) and PP-OCR (their rows, and the second reading of any unsure text field)."""
    from pipeline.adapters.rapidocr_engine import RapidOcrEngine

    return HandReaders(DigitReader.load(), RapidOcrEngine())


def build_lexicons(cfg: Config, specs: Iterable[TemplateSpec]) -> dict[str, lexicon.Lexicon]:
    """The word list of every language text fields are read in (those that have one)."""
    langs = {cfg.ocr.text_lang} | {s.language for s in specs if s.language}
    langs |= {f.ocr.lang for s in specs for f in s.fields if f.ocr.lang}
    words = {lang: lexicon.load(cfg.ocr.tessdata, lang) for lang in sorted(langs)}
    return {k: v for k, v in words.items() if len(v)}


def build_trust(cfg: Config, specs: Iterable[TemplateSpec]) -> Trust:
    """The shipped calibration, the thresholds for the configured target, the word lists."""
    specs = list(specs)
    cal = calibration.load()
    if cfg.review.threshold is not None:
        thresholds = dict.fromkeys(calibration.KINDS, cfg.review.threshold)
    else:
        floor = cfg.review.min_confidence
        thresholds = {
            k: max(t, floor) for k, t in cal.thresholds(cfg.review.max_residual_error).items()
        }
    agreed = cfg.review.min_confidence if cfg.review.accept_agreeing else 1.0
    return Trust(cal, thresholds, build_lexicons(cfg, specs), agreed)


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
    trust: Trust | None = None,
) -> Iterator[Context]:
    """``templates`` and ``trust`` default to the configured ones (tests and the
    calibration fit pass their own)."""
    if templates is None:
        templates = load_templates(cfg.templates_dir, cfg.normalize.dpi)
    check_ocr_data(cfg, [t.spec for t in templates])
    orb, sift = build_matchers(cfg)
    catalog = build_catalog(templates, orb)
    if trust is None:
        trust = build_trust(cfg, [t.spec for t in templates])
    engine = build_engine(cfg)
    hand = build_hand()
    try:
        yield Context(cfg, templates, catalog, orb, sift, engine, trust, hand)
    finally:
        hand.line.close()
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
