"""Feature detection, matching and robust homography: shared by identify and align.

Pure functions over images; detectors are created per call site by the caller-owned
``Matcher`` so nothing is built at import time and each worker process owns its own.
Besides the transform, two checks of a fit: ``coverage`` (how much of the form's print
is on the page) and ``absent_marks`` (whether any printed word of the form is missing,
which is how two forms that share a layout but not their form number differ), and
``bilevel_twin``: a reference as a black-and-white scan would keep it, so that a fax is
compared with what a fax can show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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


# A black-and-white scanner keeps what is darker than a little over half the paper's
# brightness (the benchmark's fax: 150 on paper at 240), sampled at fax resolution or
# finer: hairlines, small or grey print and tints are lost whole. (Group 3 fax is 200
# dpi; office scanners in black-and-white mode 200-300 dpi.)
BILEVEL_DPI = 200.0
BILEVEL_LEVEL = 0.6
BILEVEL_PAPER = 0.5  # share of pure white pixels that marks a page as black-and-white


def bilevel_twin(reference: Gray, dpi: float) -> Gray:
    """The reference as a 200-dpi black-and-white scan keeps it, at the reference's size.

    A fax of a dense page has lost its light print, so against the grey reference it
    finds too few features and too little of the printed ink (a page printed in grey
    scored 0.4-0.8 coverage with 40-140 inliers); against this twin the same scans score
    0.9-1.0 with several hundred. The blur is the scanner's optics (about 0.8 px at 300
    dpi)."""
    h, w = reference.shape
    blurred = cv2.GaussianBlur(reference, (0, 0), 0.8 * dpi / 300.0)
    f = min(1.0, BILEVEL_DPI / dpi)
    small = (
        cv2.resize(blurred, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else blurred
    )
    bw = np.where(small < BILEVEL_LEVEL * paper_level(small), 0, 255).astype(np.uint8)
    if f == 1.0:
        return bw
    out: Gray = cv2.resize(bw, (w, h), interpolation=cv2.INTER_CUBIC)
    return out


def looks_bilevel(image: Gray) -> bool:
    """Black-and-white (or drawn, never printed): most of it is paper at pure white. A
    grey scan's paper has grain and sits at 230-250, so hardly a pixel is at 255."""
    sample = image[::4, ::4]  # plenty for a share of the page, and 16 times cheaper
    if sample.size == 0:
        return False
    return int(np.count_nonzero(sample >= 254)) >= BILEVEL_PAPER * sample.size


@dataclass(frozen=True, eq=False)
class Marks:
    """The form's printed words (and other small printed marks: ticks, boxes, digits) at
    the matching scale, for ``absent_marks``: their ink pixels, the mark each belongs
    to, and how many pixels each has. Lines, frames and anything inside a field's box
    (where a value is written, and where a viewer draws widgets that are never printed)
    are left out."""

    points: NDArray[np.float32] = field(repr=False)  # (x, y) of each ink pixel
    mark: NDArray[np.intp] = field(repr=False)
    size: NDArray[np.intp] = field(repr=False)

    def __len__(self) -> int:
        return len(self.size)


def box_mask(
    shape: tuple[int, ...], boxes: Sequence[tuple[float, float, float, float]], scale: float
) -> NDArray[np.bool_]:
    """The (x, y, w, h) ``boxes``, in points, as pixels at ``scale``, two pixels wider."""
    out = np.zeros(shape[:2], dtype=bool)
    for x, y, w, h in boxes:
        x0, y0 = max(0, math.floor(x * scale) - 2), max(0, math.floor(y * scale) - 2)
        out[y0 : math.ceil((y + h) * scale) + 2, x0 : math.ceil((x + w) * scale) + 2] = True
    return out


MARK_MIN_PX = 10  # at the matching scale (150 dpi): a short word in 6-pt print
MARK_MAX_H = 40  # taller than a line of large print: a frame or a box, not a word


def printed_marks(printed: NDArray[np.bool_], skip: NDArray[np.bool_] | None = None) -> Marks:
    """The marks of ``printed``: ink joined across a pixel's gap, which makes letters
    into words but keeps words a space apart on their own."""
    joined = cv2.dilate(printed.astype(np.uint8), np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    ys, xs = np.nonzero(printed)
    lab = labels[ys, xs]
    total = np.bincount(lab, minlength=n)
    h = stats[:, cv2.CC_STAT_HEIGHT]
    keep = (total >= MARK_MIN_PX) & (h <= MARK_MAX_H) & (h >= 3)
    if skip is not None:
        inside = np.bincount(lab[skip[ys, xs]], minlength=n)
        keep &= inside * 2 < total
    keep[0] = False
    number = np.cumsum(keep) - 1  # label -> mark number, for the labels kept
    # Every other pixel, chequered, is as good a sample of a mark and half the work
    # (a thin diagonal stroke may fall on one colour only: such a mark is kept whole).
    sel = keep[lab] & ((xs + ys) % 2 == 0)
    sel |= (keep & (np.bincount(lab[sel], minlength=n) < MARK_MIN_PX // 2))[lab]
    mark = number[lab[sel]].astype(np.intp)
    return Marks(
        points=np.stack([xs[sel], ys[sel]], axis=1).astype(np.float32),
        mark=mark,
        size=np.bincount(mark, minlength=int(keep.sum())).astype(np.intp),
    )


ABSENT_SHARE = 0.4  # a mark with less of its ink on the page than this is not there
EDGE_PX = 6  # marks this close to the scanned area's edge may be cut off: not judged
SHIFT_PX = 3  # how far a mark is looked for around where the transform puts it


def absent_marks(marks: Marks, page_small: Gray, match: Match) -> int:
    """How many of the form's printed marks are not on the aligned page at all.

    A filled form adds ink and a scan thins it, but the printed words stay: the page
    ink is taken leniently (faded toner still counts), so a true page has none absent,
    while another form that shares the layout lacks at least its own form number or
    title (a different number in the same place has 20-30 % of the mark's ink on it).
    A mark not found where the transform puts it is looked for a few pixels around, as
    paper that was not flat shifts words by more than a single transform allows. Marks
    near the scanned area's edge (a page scanned with an edge cut off) are not judged.
    The mark pixels are mapped onto the page rather than the page warped: about 2 ms."""
    n = len(marks)
    if not n:
        return 0
    ph, pw = page_small.shape
    # Within a pixel of where the mark's pixel lands: the darkest page pixel.
    darkest = cv2.erode(page_small, np.ones((3, 3), np.uint8)).ravel()
    level = 0.9 * paper_level(page_small[::4, ::4])  # a sample is plenty for the paper
    at = cv2.perspectiveTransform(marks.points.reshape(-1, 1, 2), match.homography).reshape(-1, 2)
    xy = np.floor(at + 0.5).astype(np.intp)
    x, y = xy[:, 0], xy[:, 1]
    inside = (x >= EDGE_PX) & (y >= EDGE_PX) & (x < pw - EDGE_PX) & (y < ph - EDGE_PX)
    judged = np.bincount(marks.mark[inside], minlength=n) == marks.size
    ink = np.zeros(len(x), dtype=bool)
    ink[inside] = darkest[y[inside] * pw + x[inside]] < level
    share = np.bincount(marks.mark[ink], minlength=n) / marks.size
    doubt = judged & (share < ABSENT_SHARE)
    if doubt.any():
        sel = doubt[marks.mark] & inside  # few pixels: only the marks in doubt
        sx, sy, sm = x[sel], y[sel], marks.mark[sel]
        for dy in range(-SHIFT_PX, SHIFT_PX + 1):
            for dx in range(-SHIFT_PX, SHIFT_PX + 1):
                hit = darkest[(sy + dy) * pw + (sx + dx)] < level  # in bounds: EDGE_PX > SHIFT_PX
                share = np.maximum(share, np.bincount(sm[hit], minlength=n) / marks.size)
    return int(np.count_nonzero(doubt & (share < ABSENT_SHARE)))
