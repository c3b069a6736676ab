"""align: the homography from a template page's reference to the scanned page.

ORB on the exact 0.5x downscale gives the transform found during identify; it is scaled
back to full resolution. With few inliers SIFT is tried as well and the better of the
two kept. The quality figure (0..1) is the coverage of the form's printed ink on the
aligned page (see ``matching.coverage``): it falls when any part of the page is off,
which inlier counts and reprojection errors do not show. A poor figure becomes an issue
on the record, never an exception.
"""

from __future__ import annotations

from pipeline.config import AlignConfig
from pipeline.matching import Features, Match, Matcher, coverage
from pipeline.records import Alignment, Gray
from pipeline.stages.identify import CatalogPage


def align(
    page_image: Gray,
    page_features: Features,
    ref: CatalogPage,
    orb_match: Match,
    orb_coverage: float,
    cfg: AlignConfig,
    sift: Matcher | None,
) -> Alignment:
    """``orb_coverage`` is the coverage identify measured for ``orb_match``."""
    best, method, score = orb_match, "orb", orb_coverage
    if orb_match.inliers < cfg.sift_fallback_inliers and sift is not None:
        reference = ref.template.references[ref.page - 1]
        alt = sift.match(sift.detect(reference), sift.detect(page_image))
        if alt is not None:
            alt_score = coverage(ref.printed, page_features.image, alt)
            if alt_score > score:
                best, method, score = alt, "sift", alt_score
    return Alignment(
        homography=best.full_resolution(),
        inliers=best.inliers,
        matches=best.matches,
        rmse=best.rmse / best.factor,
        quality=score,
        method=method,  # type: ignore[arg-type]
    )
