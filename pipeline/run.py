"""The stage order, written once: file -> pages -> identified pages -> form instances ->
aligned, extracted, validated records.

Bad input ends as a ``failed`` record with a reason code (never a traceback, never a
lost file); low confidence and failed rules are data on the record.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from pipeline.context import Context
from pipeline.errors import BlankettError, Reason
from pipeline.imaging import aligned_preview
from pipeline.issues import IssueCode
from pipeline.matching import Features, Match
from pipeline.records import (
    Alignment,
    Document,
    FieldReading,
    Identification,
    Page,
    Record,
    RecordStatus,
)
from pipeline.stages.align import align
from pipeline.stages.extract import ExtractContext, extract
from pipeline.stages.identify import CatalogPage, identify
from pipeline.stages.ingest import ingest
from pipeline.stages.normalize import normalize
from pipeline.stages.validate import validate
from pipeline.templates.load import Template

log = logging.getLogger(__name__)


# With a template assigned by an operator, a page is taken at this much coverage.
HINT_MIN_COVERAGE = 0.5


@dataclass
class StageClock:
    """Seconds spent per stage, summed over the files it is passed to (for benchmarks)."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - t0


@dataclass(frozen=True)
class _Seen:
    page: Page
    features: Features
    ident: Identification
    match: Match | None
    ref: CatalogPage | None


def process_file(path: Path, ctx: Context, clock: StageClock | None = None) -> list[Record]:
    """All records found in one file; a file that cannot be read is one failed record."""
    try:
        return read_file(path, ctx, clock)
    except BlankettError as exc:
        log.warning("failed file=%s reason=%s", path, exc.code)
        return [failed(path, exc.code, exc.message)]
    except Exception as exc:  # a bug must not take the other files down with it
        log.exception("internal error file=%s", path)
        return [failed(path, Reason.INTERNAL_ERROR, f"unexpected error: {type(exc).__name__}")]


def failed(path: Path, code: str, message: str) -> Record:
    return Record(
        file=str(path), sha256=None, status=RecordStatus.FAILED, reason=code, message=message
    )


def read_file(
    path: Path, ctx: Context, clock: StageClock | None = None, *, hint: str | None = None
) -> list[Record]:
    """All records found in one file; raises ``BlankettError`` when the file cannot be read.

    ``hint``: a template id an operator assigned; only its pages are tried, and a looser
    fit is accepted (the record then needs review with ``template_assigned``).
    """
    clock = clock or StageClock()
    cfg = ctx.cfg
    catalog, ident_cfg = ctx.catalog, cfg.identify
    if hint is not None:
        catalog = ctx.catalog.only(hint)
        ident_cfg = cfg.identify.model_copy(
            update={
                "min_coverage": min(cfg.identify.min_coverage, HINT_MIN_COVERAGE),
                "min_margin": 0.0,
            }
        )
    with clock("ingest"):
        doc = ingest(path, cfg.limits)
    with clock("normalize"):
        pages = normalize(doc, cfg.normalize, cfg.limits)
    seen = []
    for page in pages:
        if page.blank:
            continue
        with clock("identify"):
            feats = ctx.orb.detect(page.image)
            ident, match, ref = identify(page, feats, catalog, ctx.orb, ident_cfg)
        seen.append(_Seen(page, feats, ident, match, ref))
    if not seen:
        return [
            _record(
                doc,
                RecordStatus.UNIDENTIFIED,
                pages=[p.number for p in pages],
                issues=(IssueCode.ALL_PAGES_BLANK,),
            )
        ]
    out = []
    for group in group_instances(seen):
        if group[0].ref is None:
            out.append(
                _record(
                    doc,
                    RecordStatus.UNIDENTIFIED,
                    pages=[group[0].page.number],
                    issues=(IssueCode.PAGE_UNIDENTIFIED,),
                )
            )
        else:
            out.append(_read_instance(doc, group, ctx, clock, hint))
    return out


def group_instances(seen: list[_Seen]) -> list[list[_Seen]]:
    """Consecutive pages of one template, in rising page order, are one form instance."""
    groups: list[list[_Seen]] = []
    current: list[_Seen] | None = None
    for s in seen:
        if s.ref is None:
            groups.append([s])  # an unknown page stands alone and does not split a form
            continue
        last = current[-1] if current else None
        if (
            last is not None
            and last.ref is not None
            and last.ref.template is s.ref.template
            and s.ref.page > last.ref.page
        ):
            current.append(s)  # type: ignore[union-attr]
        else:
            current = [s]
            groups.append(current)
    return groups


def _read_instance(
    doc: Document, group: list[_Seen], ctx: Context, clock: StageClock, hint: str | None
) -> Record:
    cfg = ctx.cfg
    template = group[0].ref.template  # type: ignore[union-attr]
    crop_dir = None
    if cfg.artifacts.save_crops:
        crop_dir = cfg.artifacts_dir / doc.sha256[:2] / doc.sha256 / f"{group[0].page.number}"
    ectx = ExtractContext(engine=ctx.engine, ocr=cfg.ocr, crop_dir=crop_dir)
    readings: list[FieldReading] = []
    quality: dict[int, float] = {}
    previews: list[tuple[int, str]] = []
    for s in group:
        assert s.ref is not None and s.match is not None
        with clock("align"):
            alignment = align(
                s.page.image, s.features, s.ref, s.match, s.ident.score, cfg.align, ctx.sift
            )
        quality[s.ref.page] = alignment.quality
        if crop_dir is not None:
            with clock("extract"):
                previews.append((s.ref.page, _save_preview(s, alignment, template, crop_dir)))
        with clock("extract"):
            readings.extend(extract(s.page, alignment, template, s.ref.page, ectx))
    with clock("validate"):
        fields, issues, status = validate(template.spec, readings, quality, cfg.review, cfg.align)
    present = {s.ref.page for s in group if s.ref is not None}
    missing = [p.number for p in template.spec.pages if p.number not in present and not p.optional]
    if missing:
        issues = (*issues, IssueCode.MISSING_PAGES)
        status = RecordStatus.NEEDS_REVIEW
    if any(s.ident.version_uncertain for s in group):
        issues = (*issues, IssueCode.VERSION_UNCERTAIN)
        status = RecordStatus.NEEDS_REVIEW
    if hint is not None:
        issues = (*issues, IssueCode.TEMPLATE_ASSIGNED)
        status = RecordStatus.NEEDS_REVIEW
    log.info(
        "record file=%s template=%s pages=%s status=%s flagged=%d",
        doc.path,
        template.id,
        [s.page.number for s in group],
        status.value,
        sum(f.needs_review for f in fields),
    )
    return Record(
        file=str(doc.path),
        sha256=doc.sha256,
        status=status,
        template_id=template.id,
        template_version=template.version,
        pages=tuple(s.page.number for s in group),
        fields=fields,
        issues=issues,
        previews=tuple(previews),
    )


PREVIEW_WIDTH = 1240  # 150 dpi on A4: legible handwriting, light to send


def _save_preview(s: _Seen, alignment: Alignment, template: Template, crop_dir: Path) -> str:
    ref = template.references[s.ref.page - 1]  # type: ignore[union-attr]
    img = aligned_preview(s.page.image, alignment.homography, ref.shape, PREVIEW_WIDTH)
    crop_dir.mkdir(parents=True, exist_ok=True)
    path = crop_dir / f"page-{s.ref.page}.jpg"  # type: ignore[union-attr]
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return str(path)


def _record(
    doc: Document, status: RecordStatus, *, pages: list[int], issues: tuple[str, ...]
) -> Record:
    return Record(
        file=str(doc.path), sha256=doc.sha256, status=status, pages=tuple(pages), issues=issues
    )
