"""Golden end-to-end runs with real Tesseract over the committed samples and a freshly
generated corpus. The committed samples are made by ``blankett samples`` (the project's
own generator) with their expected values beside them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.context import Context
from pipeline.evaluate import (
    EXPECTED_SUFFIX,
    expected_for,
    mark_fields,
    score_file,
    summarize,
)
from pipeline.run import process_file
from pipeline.samplegen.build import generate_corpus
from tests.conftest import SAMPLES

SAMPLE_FILES = sorted(
    p
    for p in SAMPLES.rglob("*")
    if p.is_file() and not p.name.endswith(EXPECTED_SUFFIX) and expected_for(p) is not None
)


def test_samples_are_present():
    kinds = {p.suffix for p in SAMPLE_FILES}
    assert {".pdf", ".jpg", ".png", ".tif"} <= kinds
    assert len(SAMPLE_FILES) >= 7


@pytest.mark.tesseract
@pytest.mark.slow
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: str(p.relative_to(SAMPLES)))
def test_sample(ctx: Context, path: Path):
    expected = expected_for(path)
    assert expected is not None
    got = process_file(path, ctx)
    assert [(r.status.value, list(r.pages)) for r in got] == [
        (e["status"], e["pages"]) for e in expected
    ]
    records, fields = score_file(path, expected, got, mark_fields(ctx.templates))
    assert all(r.template_ok or r.expected_status == "unidentified" for r in records)
    wrong = [f.name for f in fields if not f.exact]
    unflagged = [f.name for f in fields if not f.exact and not f.flagged]
    assert unflagged == [], "a wrong value must carry needs_review"
    assert all(f.exact for f in fields if f.kind == "mark"), wrong
    assert len(wrong) <= 0.03 * max(1, len(fields)), wrong
    for exp, rec in zip(expected, got, strict=True):
        by_name = {f.name: f for f in rec.fields}
        for name, codes in exp.get("expect_issues", {}).items():
            assert set(codes) <= set(by_name[name].issues)
            assert by_name[name].needs_review


@pytest.mark.tesseract
@pytest.mark.slow
def test_generated_corpus_meets_the_accuracy_bar(ctx: Context, tmp_path: Path):
    files = generate_corpus(tmp_path, 3, seed=2024)
    records, fields = [], []
    for path in files:
        expected = expected_for(path)
        assert expected is not None
        r, f = score_file(path, expected, process_file(path, ctx), mark_fields(ctx.templates))
        records += r
        fields += f
    s = summarize(records, fields)
    assert s.records_right == s.records == len(files)
    assert s.marks_right == s.marks
    assert s.text_exact / s.text_fields >= 0.97


@pytest.mark.slow
def test_committed_samples_and_templates_come_from_the_generator(tmp_path: Path):
    """`blankett samples` is deterministic and made exactly what is committed."""
    from pipeline.samplegen.build import generate
    from tests.conftest import TEMPLATES

    generate(tmp_path / "samples", tmp_path / "templates")
    for ours, committed in ((tmp_path / "samples", SAMPLES), (tmp_path / "templates", TEMPLATES)):
        made = sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file())
        for rel in made:
            if rel.suffix.lower() in _IMAGES:
                _same_pages(committed / rel, ours / rel)
            else:
                assert (committed / rel).read_bytes() == (ours / rel).read_bytes(), rel


# Scans and references are compared as pages, not bytes: another release of the JPEG
# encoder or of PDFium's anti-aliasing moves a few grey levels, not the content.
_IMAGES = {".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png"}


def _same_pages(committed: Path, ours: Path) -> None:
    from pipeline.config import LimitsConfig, NormalizeConfig
    from pipeline.stages.ingest import ingest
    from pipeline.stages.normalize import normalize

    def pages(p: Path) -> list[np.ndarray]:
        doc = ingest(p, LimitsConfig())
        return [pg.image for pg in normalize(doc, NormalizeConfig(), LimitsConfig())]

    a, b = pages(committed), pages(ours)
    assert len(a) == len(b), committed
    for x, y in zip(a, b, strict=True):
        assert x.shape == y.shape, committed
        diff = np.abs(x.astype(np.int16) - y.astype(np.int16))
        assert diff.mean() < 0.5 and (diff > 48).mean() < 1e-4, (committed, diff.mean())


@pytest.mark.tesseract
def test_stage_clock_times_every_stage(ctx: Context):
    from pipeline.run import StageClock

    clock = StageClock()
    (rec,) = process_file(SAMPLES / "parkeringstillstand" / "scan-01.pdf", ctx, clock)
    assert rec.status.value == "accepted"
    stages = {"ingest", "normalize", "identify", "align", "extract", "validate"}
    assert stages <= set(clock.seconds)
    assert all(clock.seconds[s] > 0 for s in stages)
