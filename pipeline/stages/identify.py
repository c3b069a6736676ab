"""identify: which template, and which page of it, a scanned page is.

Every template page is matched by features (inliers of a plausible homography); the few
best are then verified by *coverage*, the share of the template's printed ink found
again on the aligned page. Forms of one family share headers and box layouts, so inliers
alone cannot tell them apart (a blank form of another family scored 286 inliers against
728 for a true match), while coverage can (0.38 against 1.0). The best wins only with
enough coverage and a clear margin over the runner-up, else the page is
``unidentified``. The winning match is handed to align, so the page's features are
computed once. The catalog of reference features is built once per process
(``build_catalog``), never at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from pipeline.config import IdentifyConfig
from pipeline.matching import Features, Match, Matcher, coverage, printed_mask
from pipeline.records import Identification, Page
from pipeline.templates.load import Template


@dataclass(frozen=True, eq=False)
class CatalogPage:
    template: Template
    page: int  # 1-based template page
    features: Features = field(repr=False)
    printed: NDArray[np.bool_] = field(repr=False)  # printed ink at the matching scale


@dataclass(frozen=True, eq=False)
class Catalog:
    pages: tuple[CatalogPage, ...]

    def find(self, template_id: str, version: int, page: int) -> CatalogPage:
        for p in self.pages:
            if p.template.id == template_id and p.template.version == version and p.page == page:
                return p
        raise KeyError((template_id, version, page))


def build_catalog(templates: tuple[Template, ...], matcher: Matcher) -> Catalog:
    pages = []
    for t in templates:
        for i, ref in enumerate(t.references, start=1):
            feats = matcher.detect(ref)
            pages.append(
                CatalogPage(template=t, page=i, features=feats, printed=printed_mask(feats.image))
            )
    return Catalog(pages=tuple(pages))


VERIFY_TOP = 3  # candidates (by inliers) whose coverage is measured


def identify(
    page: Page, features: Features, catalog: Catalog, matcher: Matcher, cfg: IdentifyConfig
) -> tuple[Identification, Match | None, CatalogPage | None]:
    matched: list[tuple[CatalogPage, Match]] = []
    for cp in catalog.pages:
        m = matcher.match(cp.features, features)
        if m is not None and m.inliers >= cfg.min_inliers:
            matched.append((cp, m))
    matched.sort(key=lambda cm: cm[1].inliers, reverse=True)
    verified = sorted(
        ((coverage(cp.printed, features.image, m), cp, m) for cp, m in matched[:VERIFY_TOP]),
        key=lambda t: t[0],
        reverse=True,
    )
    best = verified[0] if verified else None
    runner_up = verified[1][0] if len(verified) > 1 else 0.0
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
        ),
        match,
        cp,
    )
