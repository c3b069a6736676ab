"""identify: which template, and which page of it, a scanned page is.

Cheapest evidence first. A form-id barcode, where templates print one, is decoded in
the small regions where the likeliest templates print it and narrows the candidates to
the pages with that code. A layout prefilter (a 64x64 ink-density thumbnail compared with
every template page's, at four orientations: one matrix product) ranks the template
pages, so the cost stays near-flat as templates are added. In that order, up to four are
matched by features (a plausible homography with enough inliers) and verified by
*coverage*: the share of the template's printed ink found again on the aligned page.
Matching stops after two when one of them is a sure fit and clearly ahead. Forms of one family share
headers and box layouts, so inliers alone cannot tell them apart (a blank form of another
family scored 286 inliers against 728 for a true match), while coverage can (0.38 against
1.0). The best wins only with enough coverage and a clear margin over the runner-up, else
the page is ``unidentified``; when the runner-up is another *version* of the same form
page that fits as well, the best is kept and the record says the version is uncertain.

A black-and-white scan (a fax) has lost the light print of the form (hairlines, small
or grey print, tints): against the grey reference it shows too little of the form, and
its thumbnail is no longer the template's (a dense page printed in mid grey was left
unidentified in most fax scans, in none at office quality). Such a page
(``matching.looks_bilevel``) is ranked by what a black-and-white scan keeps of each
template page and matched against the candidates' *bilevel twins* (made on first use,
then kept); the grey references are the fallback.

A fit that covers the print must also show every printed word of the template
(``matching.absent_marks``; on a black-and-white page, the words dark enough for any
threshold): a page another form prints alike but for its own title or number lacks some
and is left unidentified (``Verdict.differs`` names the look-alike), nor is it the
other form's rival. Prints that differ by a letter or digit in one place look alike at
a scan's resolution: there the rest of the file decides (``rests_on_shared_pages``).

The winning match is handed to align, so the page's features are computed once. The
catalog is built once per process (``build_catalog``), never at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.config import IdentifyConfig
from pipeline.imaging import paper_level
from pipeline.matching import (
    BILEVEL_LEVEL,
    Features,
    Marks,
    Match,
    Matcher,
    absent_marks,
    bilevel_twin,
    box_mask,
    coverage,
    looks_bilevel,
    printed_marks,
    printed_mask,
)
from pipeline.records import Gray, Identification, Page
from pipeline.templates.load import Template
from pipeline.templates.schema import FormCode, TemplateSpec


@dataclass(frozen=True, eq=False)
class CatalogPage:
    template: Template
    page: int  # 1-based template page
    features: Features = field(repr=False)
    printed: NDArray[np.bool_] = field(repr=False)  # printed ink at the matching scale
    # Set on a bilevel twin: the page it is the twin of.
    origin: CatalogPage | None = field(default=None, repr=False)
    _twin: list[CatalogPage] = field(default_factory=list, init=False, repr=False)

    @property
    def code(self) -> FormCode | None:
        return self.template.spec.pages[self.page - 1].form_code

    @cached_property
    def marks(self) -> Marks:
        """The printed words outside the fields' boxes (made on first use, then kept)."""
        return printed_marks(self.printed, self._boxes())

    @cached_property
    def solid_marks(self) -> Marks:
        """The words printed dark enough that any black-and-white scan keeps them: the
        ones a fax can be asked to show (a word near the scanner's threshold may go)."""
        if self.origin is not None:
            return self.origin.solid_marks
        level = SOLID_INK * paper_level(self.features.image)
        return printed_marks(self.features.image < level, self._boxes())

    def _boxes(self) -> NDArray[np.bool_]:
        regions = [f.region for f in self.template.spec.page_fields(self.page)]
        return box_mask(self.printed.shape, regions, self.template.scale() * self.features.factor)

    def twin(self, matcher: Matcher) -> CatalogPage:
        """This page as a black-and-white scan shows it: made on first use (a few tens of
        milliseconds, only for pages a bilevel scan is matched against), then kept."""
        if self.origin is not None:
            return self
        if not self._twin:
            ref = self.template.references[self.page - 1]
            feats = matcher.detect(bilevel_twin(ref, self.template.dpi))
            twin = CatalogPage(self.template, self.page, feats, printed_mask(feats.image), self)
            self._twin.append(twin)
        return self._twin[0]


# Darker than this share of the paper (at the matching scale): print a black-and-white scan
# keeps whatever its threshold (the benchmark's fax keeps what is under about 0.62).
SOLID_INK = 0.35
THUMB = 64  # side of the layout thumbnail
PREFILTER_KEEP = 4  # template pages that go on to feature matching


def thumbnail(small: Gray) -> NDArray[np.float32]:
    """Ink density on a blurred 64x64 grid; square, so a quarter turn of it is exact."""
    ink = 255.0 - cv2.resize(small, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32)
    out: NDArray[np.float32] = cv2.GaussianBlur(ink, (0, 0), 1.5)
    return out


def layout_signature(thumb: NDArray[np.float32]) -> NDArray[np.float32]:
    """Zero mean, unit length: dot products of signatures are cosine scores.

    Blurred so that a few degrees of skew or a few millimetres of shift barely change it.
    """
    v = thumb.ravel() - thumb.mean()
    norm = float(np.linalg.norm(v))
    out: NDArray[np.float32] = v / norm if norm > 0 else v
    return out


def bilevel_thumbnail(small: Gray) -> NDArray[np.float32]:
    """The thumbnail of what a black-and-white scan keeps of a grey reference (roughly:
    its bilevel twin is made only for the pages a scan is matched against)."""
    kept = np.where(small < BILEVEL_LEVEL * paper_level(small), 0, 255).astype(np.uint8)
    return thumbnail(kept)


@dataclass(frozen=True, eq=False)
class Catalog:
    pages: tuple[CatalogPage, ...]
    signatures: NDArray[np.float32] = field(repr=False)  # one row per page
    # The same for a black-and-white scan: a fax of a form printed in grey keeps a
    # fraction of its ink, and its layout is that fraction's, not the grey page's.
    bilevel_signatures: NDArray[np.float32] = field(repr=False)

    def only(self, template_id: str) -> Catalog:
        """The pages of one template (all its versions), for an operator's assignment."""
        keep = [i for i, p in enumerate(self.pages) if p.template.id == template_id]
        return Catalog(
            tuple(self.pages[i] for i in keep),
            self.signatures[keep],
            self.bilevel_signatures[keep],
        )

    def ranked(self, page_small: Gray, *, bilevel: bool = False) -> list[CatalogPage]:
        """Template pages, the most alike in layout first (any orientation); ``bilevel``:
        the page is a black-and-white scan."""
        thumb = thumbnail(page_small)
        turns = np.stack([layout_signature(np.rot90(thumb, k)) for k in range(4)])
        sigs = self.bilevel_signatures if bilevel else self.signatures
        score = (sigs @ turns.T).max(axis=1)
        return [self.pages[i] for i in np.argsort(-score, kind="stable")]


CODE_CHECK = 8  # likeliest template pages whose form-id barcode is looked for
CODE_MARGIN_PX = 150  # a scan may be shifted and turned a few degrees: look around the box


def read_form_codes(page: Gray, ranked: list[CatalogPage], scale: float) -> set[str]:
    """Decode form-id barcodes where the likeliest templates print them (small crops: a
    whole-page barcode search costs 100+ ms, a crop a few)."""
    import zxingcpp

    found: set[str] = set()
    seen: set[tuple[int, ...]] = set()
    h, w = page.shape
    for cp in [c for c in ranked if c.code is not None][:CODE_CHECK]:
        assert cp.code is not None
        x, y, bw, bh = (round(v * scale) for v in cp.code.box)
        m = CODE_MARGIN_PX
        key = (x // 50, y // 50, bw // 50, bh // 50)
        if key in seen:
            continue
        seen.add(key)
        crop = page[max(0, y - m) : min(h, y + bh + m), max(0, x - m) : min(w, x + bw + m)]
        found |= {b.text for b in zxingcpp.read_barcodes(crop)}
    return found


def build_catalog(templates: tuple[Template, ...], matcher: Matcher) -> Catalog:
    pages = []
    for t in templates:
        for i, ref in enumerate(t.references, start=1):
            feats = matcher.detect(ref)
            pages.append(
                CatalogPage(template=t, page=i, features=feats, printed=printed_mask(feats.image))
            )

    def stack(thumb: Callable[[Gray], NDArray[np.float32]]) -> NDArray[np.float32]:
        if not pages:
            return np.zeros((0, THUMB * THUMB), np.float32)
        return np.stack([layout_signature(thumb(p.features.image)) for p in pages])

    return Catalog(tuple(pages), stack(thumbnail), stack(bilevel_thumbnail))


@dataclass(frozen=True)
class Verdict:
    """What identify found. ``differs``: the template page the page resembles (its
    features and ink fit) but whose printed words are not all on it, so another form
    or version that prints the page alike; the page is then unidentified."""

    ident: Identification
    match: Match | None
    ref: CatalogPage | None
    differs: CatalogPage | None = None


def identify(
    page: Page,
    features: Features,
    catalog: Catalog,
    matcher: Matcher,
    cfg: IdentifyConfig,
    *,
    assigned: bool = False,
) -> tuple[Identification, Match | None, CatalogPage | None]:
    v = identify_page(page, features, catalog, matcher, cfg, assigned=assigned)
    return v.ident, v.match, v.ref


def identify_page(
    page: Page,
    features: Features,
    catalog: Catalog,
    matcher: Matcher,
    cfg: IdentifyConfig,
    *,
    assigned: bool = False,
) -> Verdict:
    """``assigned``: an operator chose the template (``catalog`` holds only its pages), so
    a page whose print differs from it in places is taken all the same: the record is
    reviewed with the operator's choice on it."""
    bilevel = looks_bilevel(features.image)
    ranked = catalog.ranked(features.image, bilevel=bilevel)
    candidates = ranked[:PREFILTER_KEEP]
    evidence: Literal["features", "barcode"] = "features"
    if any(cp.code is not None for cp in ranked[:CODE_CHECK]):
        codes = read_form_codes(page.image, ranked, page.dpi / 72.0)
        coded = [cp for cp in ranked if cp.code is not None and cp.code.text in codes]
        if coded:  # the code narrows the field; coverage still has the last word
            candidates, evidence = coded[:PREFILTER_KEEP], "barcode"
    judge = partial(_judge, page, features, candidates, matcher, cfg, evidence, assigned)
    if not bilevel:
        return judge()
    first = judge(twins=True)
    if first.ref is not None or first.differs is not None:
        return first
    # The grey references, for a black-and-white scan the twins did not settle (one that
    # kept more of a light print than the twin does).
    v = judge(twins=False)
    if v.ref is not None or v.differs is not None:
        return v
    return first if first.ident.score >= v.ident.score else v


@dataclass(frozen=True)
class _Fit:
    score: float  # coverage
    ref: CatalogPage
    match: Match


def _judge(
    page: Page,
    features: Features,
    candidates: list[CatalogPage],
    matcher: Matcher,
    cfg: IdentifyConfig,
    evidence: Literal["features", "barcode"],
    assigned: bool,
    *,
    twins: bool | None = None,
) -> Verdict:
    """The best of ``candidates``, if it is sure. ``twins``: the page is black-and-white,
    and True matches it against the candidates' bilevel twins, False against their grey
    references; either way only the solidly printed words are looked for (a fax loses
    light print, so a grey reference's faint words could be missing from a true page)."""
    verified: list[_Fit] = []
    for tried, c in enumerate(candidates, start=1):
        cp = c.twin(matcher) if twins else c
        m = matcher.match(cp.features, features)
        if m is not None and m.inliers >= cfg.min_inliers:
            verified.append(_Fit(coverage(cp.printed, features.image, m), cp, m))
            verified.sort(key=lambda f: f.score, reverse=True)
        # The two most alike layouts settle it when one of them is a sure fit and the
        # other is clearly not (versions of one page are alike, so both are among them).
        if tried >= 2 and verified and _settled(verified, cfg):
            break
    # A fit that covers the print but lacks some of its words is another form's page:
    # neither the winner nor a rival.
    differs = [
        f
        for f in verified
        if f.score >= cfg.min_coverage
        and not assigned
        and absent_marks(
            f.ref.marks if twins is None else f.ref.solid_marks, features.image, f.match
        )
    ]
    verified = [f for f in verified if all(f is not d for d in differs)]
    best = verified[0] if verified else None
    rival = (
        next((v for v in verified[1:] if not _same_page_other_version(v.ref, best.ref)), None)
        if best
        else None
    )
    runner_up = rival.score if rival else 0.0
    versions_tie = bool(
        best
        and any(
            _same_page_other_version(v.ref, best.ref) and best.score - v.score < cfg.min_margin
            for v in verified[1:]
        )
    )
    if best is None or best.score < cfg.min_coverage or best.score - runner_up < cfg.min_margin:
        near = differs[0] if differs else best
        return Verdict(
            Identification(
                page_number=page.number,
                template_id=None,
                template_version=None,
                template_page=None,
                score=near.score if near else 0.0,
                runner_up=runner_up,
                inliers=near.match.inliers if near else 0,
                rotation=0,
                evidence="none",
            ),
            None,
            None,
            differs[0].ref if differs else None,
        )
    return Verdict(
        Identification(
            page_number=page.number,
            template_id=best.ref.template.id,
            template_version=best.ref.template.version,
            template_page=best.ref.page,
            score=best.score,
            runner_up=runner_up,
            inliers=best.match.inliers,
            rotation=best.match.rotation(),
            evidence=evidence,
            version_uncertain=versions_tie,
        ),
        best.match,
        best.ref,
    )


def _settled(verified: list[_Fit], cfg: IdentifyConfig) -> bool:
    best = verified[0].score
    second = verified[1].score if len(verified) > 1 else 0.0
    return best >= cfg.min_coverage + cfg.min_margin and best - second >= cfg.min_margin


def _same_page_other_version(a: CatalogPage, b: CatalogPage) -> bool:
    return a.template.id == b.template.id and a.page == b.page and a.template is not b.template


def rests_on_shared_pages(
    spec: TemplateSpec,
    template_pages: Collection[int],
    file_pages: Sequence[int],
    unidentified: Collection[int],
) -> bool:
    """Whether a form instance found in a file may be another form that prints the same
    pages (a continuation sheet, an instruction page), so taking it for ``spec``'s form
    would be a guess: ``template_pages`` were found at ``file_pages``; ``unidentified``
    are the file's pages (not blank) that matched no template.

    Doubtful: it lacks required pages of its form, and unknown pages lie next to it or
    among its pages, where the missing ones should be. Another form that shares the
    found pages explains that, as does a form scanned too badly to identify its other
    pages; either way a person must say which form it is. An instance that is complete,
    or alone in its stretch of the file, rests on its own pages."""
    present = set(template_pages)
    if all(p.number in present or p.optional for p in spec.pages):
        return False
    first, last = min(file_pages) - 1, max(file_pages) + 1
    return any(first <= n <= last for n in unidentified)
