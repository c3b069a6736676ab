"""Pure pixel helpers: no I/O, no config, no state. Grayscale uint8, dark ink on light paper."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.records import Gray


def downscale(img: Gray, factor: float) -> Gray:
    """Resize by an exact factor (cheap: fx=fy=0.5 costs well under a millisecond)."""
    if factor == 1.0:
        return img
    return cv2.resize(img, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)


def paper_level(img: Gray) -> float:
    """Brightness of the paper: the 90th percentile, robust to ink and noise.

    From the histogram: 40x faster than np.percentile on a half page, and exact for uint8.
    """
    if img.size == 0:
        return 255.0
    hist = cv2.calcHist([img], [0], None, [256], [0, 256]).ravel()
    cum = np.cumsum(hist)
    return float(np.searchsorted(cum, 0.9 * cum[-1]))


def ink_mask(img: Gray, paper: float | None = None) -> NDArray[np.bool_]:
    """Pixels clearly darker than the local paper (relative, so grey paper works too)."""
    level = paper_level(img) if paper is None else paper
    return img < 0.6 * level


def ink_ratio(img: Gray, paper: float | None = None) -> float:
    if img.size == 0:
        return 0.0
    return float(np.count_nonzero(ink_mask(img, paper))) / img.size


def despeckle(mask: NDArray[np.bool_], min_area: int) -> NDArray[np.bool_]:
    """Drop connected ink blobs smaller than ``min_area`` pixels (scanner noise, dust)."""
    m = mask.astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return mask
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    out: NDArray[np.bool_] = keep[labels]
    return out


def is_blank(img: Gray, max_ink: float, margin: float = 0.05) -> bool:
    """True when, away from the edges (scanner shadows), almost nothing is printed.

    At half resolution with a lenient ink threshold, so that a page that is only a thin
    printed frame (a continuation sheet) is not mistaken for an empty one.
    """
    small = downscale(img, 0.5)
    h, w = small.shape
    my, mx = int(h * margin), int(w * margin)
    core = cv2.medianBlur(small[my : h - my, mx : w - mx], 3)
    mask = despeckle(core < 0.8 * paper_level(core), 8)
    return float(np.count_nonzero(mask)) / max(core.size, 1) < max_ink


def bbox_of(mask: NDArray[np.bool_]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the True pixels, or None."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def pad_white(img: Gray, pad: int) -> Gray:
    return cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)


def aligned_preview(
    image: Gray, homography: NDArray[np.float64], ref_shape: tuple[int, ...], width: int
) -> Gray:
    """The page warped into its template's frame, ``width`` pixels wide, for people to look
    at with the template's boxes drawn over it. ``homography`` maps reference pixels to
    page pixels (full resolution)."""
    s = width / ref_shape[1]
    height = round(ref_shape[0] * s)
    to_page = homography @ np.diag([1 / s, 1 / s, 1.0])
    return cv2.warpPerspective(
        image,
        to_page,
        (width, height),
        flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
        borderValue=255,
    )
