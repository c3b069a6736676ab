"""Feature detection, matching and robust homography: shared by identify and align.

Pure functions over images; detectors are created per call site by the caller-owned
``Matcher`` so nothing is built at import time and each worker process owns its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.imaging import downscale, paper_level
from pipeline.records import Gray


@dataclass(frozen=True, eq=False)
class Features:
    """Keypoint coordinates (in the downscaled image) and descriptors."""

    points: NDArray[np.float32] = field(repr=False)
    descriptors: NDArray[np.uint8] | NDArray[np.float32] | None = field(repr=False)
    factor: float  # downscale factor the points are measured at
    image: Gray = field(repr=False)  # the downscaled image they were found in

    def __len__(self) -> int:
        return len(self.points)


@dataclass(frozen=True, eq=False)
class Match:
    """A homography from reference to page, both at ``factor``; quality figures beside."""

    homography: NDArray[np.float64] = field(repr=False)
    inliers: int
    matches: int
    rmse: float  # at ``factor`` scale
    factor: float

    def full_resolution(self) -> NDArray[np.float64]:
        """The same mapping between full-resolution pixels: S^-1 H S."""
        s = np.diag([self.factor, self.factor, 1.0])
        return np.linalg.inv(s) @ self.homography @ s

    def rotation(self) -> int:
        """Page orientation implied by the transform, to the nearest quarter turn."""
        angle = math.degrees(math.atan2(self.homography[1, 0], self.homography[0, 0]))
        return round(angle / 90.0) % 4 * 90


class Matcher:
    """ORB (or SIFT) detection on an exact downscale, ratio-test matching, MAGSAC."""

    def __init__(
        self, *, features: int, levels: int, factor: float, ratio: float, method: str = "orb"
    ):
        self.factor = factor
        self.ratio = ratio
        self.method = method
        if method == "orb":
            self._detector = cv2.ORB_create(nfeatures=features, nlevels=levels)
            self._norm = cv2.NORM_HAMMING
        else:
            self._detector = cv2.SIFT_create(nfeatures=features)
            self._norm = cv2.NORM_L2
        self._matcher = cv2.BFMatcher(self._norm)

    def detect(self, image: Gray) -> Features:
        small = downscale(image, self.factor)
        kps, desc = self._detector.detectAndCompute(small, None)
        pts = np.array([k.pt for k in kps], dtype=np.float32).reshape(-1, 2)
        return Features(points=pts, descriptors=desc, factor=self.factor, image=small)

    def match(self, reference: Features, page: Features) -> Match | None:
        """Robust homography reference -> page, or None when there is no plausible one."""
        if reference.descriptors is None or page.descriptors is None:
            return None
        if len(reference) < 8 or len(page) < 8:
            return None
        pairs = self._matcher.knnMatch(reference.descriptors, page.descriptors, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < self.ratio * p[1].distance]
        if len(good) < 8:
            return None
        src = reference.points[[m.queryIdx for m in good]]
        dst = page.points[[m.trainIdx for m in good]]
        h, mask = cv2.findHomography(
            src, dst, cv2.USAC_MAGSAC, 3.0, maxIters=2000, confidence=0.999
        )
        if h is None or mask is None or not plausible(h):
            return None
        inl = mask.ravel().astype(bool)
        proj = cv2.perspectiveTransform(src[inl].reshape(-1, 1, 2), h).reshape(-1, 2)
        rmse = float(np.sqrt(np.mean(np.sum((proj - dst[inl]) ** 2, axis=1)))) if inl.any() else 0.0
        return Match(
            homography=h, inliers=int(inl.sum()), matches=len(good), rmse=rmse, factor=self.factor
        )


def plausible(h: NDArray[np.float64]) -> bool:
    """A scan of a page: no mirror, scale within 0.5..2, only slight perspective."""
    a = h[:2, :2] / h[2, 2]
    det = float(np.linalg.det(a))
    if det <= 0 or not 0.25 < det < 4.0:
        return False
    return bool(abs(h[2, 0] / h[2, 2]) < 1e-3 and abs(h[2, 1] / h[2, 2]) < 1e-3)


def printed_mask(reference_small: Gray) -> NDArray[np.bool_]:
    """The reference's printed ink at the matching scale (computed once per template page)."""
    mask: NDArray[np.bool_] = reference_small < 0.6 * paper_level(reference_small)
    return mask


def coverage(printed: NDArray[np.bool_], page_small: Gray, match: Match) -> float:
    """Share of the form's printed ink found again on the aligned page.

    Near 1 for the right form, well aligned; forms of one family share headers and
    layout (many feature inliers) but not their labels, so this tells them apart.
    """
    total = int(np.count_nonzero(printed))
    if total == 0:
        return 0.0
    h, w = printed.shape
    warped = cv2.warpPerspective(
        page_small,
        match.homography,
        (w, h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=255,
    )
    ink = (warped < 0.75 * paper_level(warped)).astype(np.uint8)
    ink = cv2.dilate(ink, np.ones((3, 3), np.uint8)).astype(bool)
    return float(np.count_nonzero(ink & printed)) / total
