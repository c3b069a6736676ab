"""The stage order, written once: file -> pages -> identified pages -> form instances ->
aligned, extracted, validated records.

Pages stream through: each is normalized, identified, aligned and read before the next
is made, and only its readings stay, so one worker's memory is bounded by one page
whatever the page count.

Bad input ends as a ``failed`` record with a reason code (never a traceback, never a
lost file); low confidence and failed rules are data on the record.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from pipeline.config import Config, IdentifyConfig
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
from pipeline.stages.identify import Catalog, CatalogPage, identify_page, rests_on_shared_pages
from pipeline.stages.ingest import ingest
from pipeline.stages.normalize import pages
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
    match: Match
    ref: CatalogPage


@dataclass
class _Instance:
    """One form instance being read: only its small results, never its page images."""

    template: Template
    crop_dir: Path | None
    pages: list[int] = field(default_factory=list)  # file page numbers
    template_pages: list[int] = field(default_factory=list)
    readings: list[FieldReading] = field(default_factory=list)
    quality: dict[int, float] = field(default_factory=dict)
    previews: list[tuple[int, str]] = field(default_factory=list)
    version_uncertain: bool = False

    def continued_by(self, ref: CatalogPage) -> bool:
        """Consecutive pages of one template, in rising page order, are one form instance."""
        return ref.template is self.template and ref.page > self.template_pages[-1]


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
    with clock("ingest"):
        doc = ingest(path, ctx.cfg.limits)
    try:
        return read_pages(doc, pages(doc, ctx.cfg.normalize, ctx.cfg.limits), ctx, clock, hint=hint)
    except BaseException:
        # Pages stream, so the crops of pages read before a bad one are on disk already;
        # no record will point at them, and they hold personal data.
        _drop_crops(doc, ctx.cfg)
        raise


def read_pages(
    doc: Document,
    page_source: Iterable[Page],
    ctx: Context,
    clock: StageClock | None = None,
    *,
    hint: str | None = None,
) -> list[Record]:
    """The records of ``doc`` from its pages, taken one at a time: each page is identified,
    aligned and read, and then let go, so memory does not grow with the page count (a
    300-page file held at once took 3.4 GB). Only the readings are kept until the end."""
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
    numbers: list[int] = []
    # Records in the order of their first page; an instance is finished at the end,
    # because an unknown page in between does not split a form.
    slots: list[Record | _Instance] = []
    current: _Instance | None = None
    for page in _timed(clock, "normalize", page_source):
        numbers.append(page.number)
        if not page.blank:
            current = _place(doc, page, current, slots, ctx, clock, catalog, ident_cfg)
        del page  # the next page is made without this one alive
    if not slots:
        return [
            _record(
                doc, RecordStatus.UNIDENTIFIED, pages=numbers, issues=(IssueCode.ALL_PAGES_BLANK,)
            )
        ]
    unknown = [n for s in slots if isinstance(s, Record) for n in s.pages]
    out: list[Record] = []
    for s in slots:
        if isinstance(s, Record):
            out.append(s)
        elif hint is None and rests_on_shared_pages(
            s.template.spec, s.template_pages, s.pages, unknown
        ):
            out += _shared(doc, s)
        else:
            out.append(_finish(doc, s, ctx, clock, hint))
    return out


def _shared(doc: Document, inst: _Instance) -> list[Record]:
    """An instance that may be another form printing the same pages (see
    ``rests_on_shared_pages``): its pages are unidentified and its crops removed."""
    if inst.crop_dir is not None:
        shutil.rmtree(inst.crop_dir, ignore_errors=True)
    log.info("shared pages file=%s template=%s pages=%s", doc.path, inst.template.id, inst.pages)
    issues = (IssueCode.PAGE_UNIDENTIFIED, IssueCode.PAGE_SHARED)
    return [_record(doc, RecordStatus.UNIDENTIFIED, pages=[n], issues=issues) for n in inst.pages]


def _timed(clock: StageClock, stage: str, items: Iterable[Page]) -> Iterator[Page]:
    """``items`` with the time spent making each charged to ``stage``."""
    it = iter(items)
    while True:
        with clock(stage):
            item = next(it, None)
        if item is None:
            return
        yield item
        del item  # not alive while the next one is made


def _place(
    doc: Document,
    page: Page,
    current: _Instance | None,
    slots: list[Record | _Instance],
    ctx: Context,
    clock: StageClock,
    catalog: Catalog,
    ident_cfg: IdentifyConfig,
) -> _Instance | None:
    """Identify ``page``, then read it into the instance it continues or starts, or add
    it as an unidentified record; returns the instance now open."""
    with clock("identify"):
        feats = ctx.orb.detect(page.image)
        # A narrowed catalog is an operator's assignment (read_pages): no second-guessing.
        verdict = identify_page(
            page, feats, catalog, ctx.orb, ident_cfg, assigned=catalog is not ctx.catalog
        )
        ident, match, ref = verdict.ident, verdict.match, verdict.ref
    if ref is None or match is None:
        # Like a template's page but lacking some of its print: another form's page.
        why = (IssueCode.PAGE_LOOKALIKE,) if verdict.differs is not None else ()
        slots.append(
            _record(
                doc,
                RecordStatus.UNIDENTIFIED,
                pages=[page.number],
                issues=(IssueCode.PAGE_UNIDENTIFIED, *why),
            )
        )
        return current  # an unknown page stands alone and does not split a form
    if current is None or not current.continued_by(ref):
        current = _Instance(ref.template, _crop_dir(doc, page.number, ctx.cfg))
        slots.append(current)
    _read_page(current, _Seen(page, feats, ident, match, ref), ctx, clock)
    return current


def _drop_crops(doc: Document, cfg: Config) -> None:
    if cfg.artifacts.save_crops:
        shutil.rmtree(cfg.artifacts_dir / doc.sha256[:2] / doc.sha256, ignore_errors=True)


def _crop_dir(doc: Document, first_page: int, cfg: Config) -> Path | None:
    if not cfg.artifacts.save_crops:
        return None
    return cfg.artifacts_dir / doc.sha256[:2] / doc.sha256 / f"{first_page}"


def _read_page(inst: _Instance, s: _Seen, ctx: Context, clock: StageClock) -> None:
    """Align and read one page of ``inst``; the page image is not kept."""
    cfg = ctx.cfg
    ectx = ExtractContext(ctx.engine, cfg.ocr, inst.crop_dir, ctx.trust, ctx.hand)
    with clock("align"):
        alignment = align(
            s.page.image, s.features, s.ref, s.match, s.ident.score, cfg.align, ctx.sift
        )
    inst.pages.append(s.page.number)
    inst.template_pages.append(s.ref.page)
    inst.quality[s.ref.page] = alignment.quality
    inst.version_uncertain |= s.ident.version_uncertain
    with clock("extract"):
        if inst.crop_dir is not None:
            inst.previews.append(
                (s.ref.page, _save_preview(s, alignment, inst.template, inst.crop_dir))
            )
        inst.readings.extend(extract(s.page, alignment, inst.template, s.ref.page, ectx))


def _finish(
    doc: Document, inst: _Instance, ctx: Context, clock: StageClock, hint: str | None
) -> Record:
    cfg = ctx.cfg
    template = inst.template
    with clock("validate"):
        fields, issues, status = validate(
            template.spec, inst.readings, inst.quality, cfg.align, ctx.trust
        )
    present = set(inst.template_pages)
    missing = [p.number for p in template.spec.pages if p.number not in present and not p.optional]
    if missing:
        issues = (*issues, IssueCode.MISSING_PAGES)
        status = RecordStatus.NEEDS_REVIEW
    if inst.version_uncertain:
        issues = (*issues, IssueCode.VERSION_UNCERTAIN)
        status = RecordStatus.NEEDS_REVIEW
    if hint is not None:
        issues = (*issues, IssueCode.TEMPLATE_ASSIGNED)
        status = RecordStatus.NEEDS_REVIEW
    log.info(
        "record file=%s template=%s pages=%s status=%s flagged=%d",
        doc.path,
        template.id,
        inst.pages,
        status.value,
        sum(f.needs_review for f in fields),
    )
    return Record(
        file=str(doc.path),
        sha256=doc.sha256,
        status=status,
        template_id=template.id,
        template_version=template.version,
        pages=tuple(inst.pages),
        fields=fields,
        issues=issues,
        previews=tuple(inst.previews),
    )


PREVIEW_WIDTH = 1240  # 150 dpi on A4: legible handwriting, light to send


def _save_preview(s: _Seen, alignment: Alignment, template: Template, crop_dir: Path) -> str:
    ref = template.references[s.ref.page - 1]
    img = aligned_preview(s.page.image, alignment.homography, ref.shape, PREVIEW_WIDTH)
    crop_dir.mkdir(parents=True, exist_ok=True)
    path = crop_dir / f"page-{s.ref.page}.jpg"
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return str(path)


def _record(
    doc: Document, status: RecordStatus, *, pages: list[int], issues: tuple[str, ...]
) -> Record:
    return Record(
        file=str(doc.path), sha256=doc.sha256, status=status, pages=tuple(pages), issues=issues
    )
