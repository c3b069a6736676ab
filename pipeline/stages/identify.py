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
The winning match is handed to align, so the page's features are computed once. The
catalog is built once per process (``build_catalog``), never at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.config import IdentifyConfig
from pipeline.matching import Features, Match, Matcher, coverage, printed_mask
from pipeline.records import Gray, Identification, Page
from pipeline.templates.load import Template
from pipeline.templates.schema import FormCode


@dataclass(frozen=True, eq=False)
class CatalogPage:
    template: Template
    page: int  # 1-based template page
    features: Features = field(repr=False)
    printed: NDArray[np.bool_] = field(repr=False)  # printed ink at the matching scale

    @property
    def code(self) -> FormCode | None:
        return self.template.spec.pages[self.page - 1].form_code


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


@dataclass(frozen=True, eq=False)
class Catalog:
    pages: tuple[CatalogPage, ...]
    signatures: NDArray[np.float32] = field(repr=False)  # one row per page

    def only(self, template_id: str) -> Catalog:
        """The pages of one template (all its versions), for an operator's assignment."""
        keep = [i for i, p in enumerate(self.pages) if p.template.id == template_id]
        return Catalog(tuple(self.pages[i] for i in keep), self.signatures[keep])

    def ranked(self, page_small: Gray) -> list[CatalogPage]:
        """Template pages, the most alike in layout first (any orientation)."""
        thumb = thumbnail(page_small)
        turns = np.stack([layout_signature(np.rot90(thumb, k)) for k in range(4)])
        score = (self.signatures @ turns.T).max(axis=1)
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
    sigs = (
        np.stack([layout_signature(thumbnail(p.features.image)) for p in pages])
        if pages
        else (np.zeros((0, THUMB * THUMB), np.float32))
    )
    return Catalog(pages=tuple(pages), signatures=sigs)


def identify(
    page: Page, features: Features, catalog: Catalog, matcher: Matcher, cfg: IdentifyConfig
) -> tuple[Identification, Match | None, CatalogPage | None]:
    ranked = catalog.ranked(features.image)
    candidates = ranked[:PREFILTER_KEEP]
    evidence: Literal["features", "barcode"] = "features"
    if any(cp.code is not None for cp in ranked[:CODE_CHECK]):
        codes = read_form_codes(page.image, ranked, page.dpi / 72.0)
        coded = [cp for cp in ranked if cp.code is not None and cp.code.text in codes]
        if coded:  # the code narrows the field; coverage still has the last word
            candidates, evidence = coded[:PREFILTER_KEEP], "barcode"
    verified: list[tuple[float, CatalogPage, Match]] = []
    for tried, cp in enumerate(candidates, start=1):
        m = matcher.match(cp.features, features)
        if m is not None and m.inliers >= cfg.min_inliers:
            verified.append((coverage(cp.printed, features.image, m), cp, m))
            verified.sort(key=lambda t: t[0], reverse=True)
        # The two most alike layouts settle it when one of them is a sure fit and the
        # other is clearly not (versions of one page are alike, so both are among them).
        if tried >= 2 and verified and _settled(verified, cfg):
            break
    best = verified[0] if verified else None
    rival = (
        next((v for v in verified[1:] if not _same_page_other_version(v[1], best[1])), None)
        if best
        else None
    )
    runner_up = rival[0] if rival else 0.0
    versions_tie = bool(
        best
        and any(
            _same_page_other_version(v[1], best[1]) and best[0] - v[0] < cfg.min_margin
            for v in verified[1:]
        )
    )
    if best is None or best[0] < cfg.min_coverage or best[0] - runner_up < cfg.min_margin:
        return (
            Identification(
                page_number=page.number,
                template_id=None,
                template_version=None,
                template_page=None,
                score=best[0] if best else 0.0,
                runner_up=runner_up,
                inliers=best[2].inliers if best else 0,
                rotation=0,
                evidence="none",
            ),
            None,
            None,
        )
    score, cp, match = best
    return (
        Identification(
            page_number=page.number,
            template_id=cp.template.id,
            template_version=cp.template.version,
            template_page=cp.page,
            score=score,
            runner_up=runner_up,
            inliers=match.inliers,
            rotation=match.rotation(),
            evidence=evidence,
            version_uncertain=versions_tie,
        ),
        match,
        cp,
    )


def _settled(verified: list[tuple[float, CatalogPage, Match]], cfg: IdentifyConfig) -> bool:
    best = verified[0][0]
    second = verified[1][0] if len(verified) > 1 else 0.0
    return best >= cfg.min_coverage + cfg.min_margin and best - second >= cfg.min_margin


def _same_page_other_version(a: CatalogPage, b: CatalogPage) -> bool:
    return a.template.id == b.template.id and a.page == b.page and a.template is not b.template
