"""fieldcrop: one field region cut from an aligned page, with the form's print dropped out.

Only the field regions are warped (never the whole page). Each crop is nudged onto the
reference locally (the global homography can be a pixel or two off at the page edges);
how well it fits there is kept as evidence for the calibration. The form's own printed
ink, taken from the aligned reference, is then dropped out, so labels, box lines and comb
ticks are not read as data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.imaging import downscale
from pipeline.records import Gray

MARGIN_PT = 3.0  # context around a box: text overflows boxes, operators want to see it
SEARCH_PX = 6  # local re-alignment range, full-resolution pixels
DROPOUT_GROW_PX = 2  # printed ink is removed this far around the reference's strokes


@dataclass(frozen=True)
class Region:
    """A field box in reference pixels plus the context margin around it."""

    x: int
    y: int
    w: int
    h: int
    margin: int

    @classmethod
    def of(cls, box: tuple[float, float, float, float], scale: float) -> Region:
        x0, y0 = math.floor(box[0] * scale), math.floor(box[1] * scale)
        x1, y1 = math.ceil((box[0] + box[2]) * scale), math.ceil((box[1] + box[3]) * scale)
        return cls(x0, y0, x1 - x0, y1 - y0, round(MARGIN_PT * scale))

    def bounds(self) -> tuple[int, int, int, int]:
        """The box itself inside the crop (which starts ``margin`` before it)."""
        m = self.margin
        return m, m, m + self.w, m + self.h

    def inner(
        self, bounds: tuple[int, int, int, int], shrink: float = 0.15
    ) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = bounds
        dx, dy = round((x1 - x0) * shrink), round((y1 - y0) * shrink)
        return x0 + dx, y0 + dy, x1 - dx, y1 - dy


@dataclass(frozen=True, eq=False)
class Cut:
    """The page's crop, the same with the form's print dropped out, where it was dropped,
    and how well the crop matched the reference (1.0: no print to match against)."""

    crop: Gray
    cleaned: Gray
    dropped: NDArray[np.bool_]
    fit: float = 1.0


def _warp(image: Gray, h: NDArray[np.float64], x: int, y: int, w: int, hh: int) -> Gray:
    t = np.array([[1, 0, x], [0, 1, y], [0, 0, 1]], dtype=np.float64)
    out = cv2.warpPerspective(
        image,
        h @ t,
        (w, hh),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=255,
    )
    return out


def _ref_crop(reference: Gray, x: int, y: int, w: int, h: int) -> Gray:
    """The reference region, white where it runs off the page."""
    out = np.full((h, w), 255, dtype=np.uint8)
    rh, rw = reference.shape
    sx0, sy0 = max(x, 0), max(y, 0)
    sx1, sy1 = min(x + w, rw), min(y + h, rh)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y : sy1 - y, sx0 - x : sx1 - x] = reference[sy0:sy1, sx0:sx1]
    return out


def cut(image: Gray, reference: Gray, h: NDArray[np.float64], r: Region) -> Cut:
    x, y = r.x - r.margin, r.y - r.margin
    w, hh = r.w + 2 * r.margin, r.h + 2 * r.margin
    ref = _ref_crop(reference, x, y, w, hh)
    s = SEARCH_PX
    wide = _warp(image, h, x - s, y - s, w + 2 * s, hh + 2 * s)
    # The reference is a clean render: anything not white is print, including the light
    # anti-aliased edges of thin lines (comb ticks at 0.6 pt never reach "dark").
    ref_ink: NDArray[np.bool_] = ref < 230
    dx = dy = s
    fit = 1.0
    if np.count_nonzero(ref < 160) > 0.01 * ref_ink.size:
        # Nudge onto the printed structure; the filled-in ink rarely dominates it. At half
        # resolution: a quarter of the cost, and the dropout margin covers the rounding.
        score = cv2.matchTemplate(downscale(wide, 0.5), downscale(ref, 0.5), cv2.TM_CCOEFF_NORMED)
        _, best, _, loc = cv2.minMaxLoc(score)
        fit = max(0.0, float(best))
        if best > 0.4:
            dx, dy = min(2 * loc[0], 2 * s), min(2 * loc[1], 2 * s)
    crop = np.ascontiguousarray(wide[dy : dy + hh, dx : dx + w])
    grow = 2 * DROPOUT_GROW_PX + 1
    drop = cv2.dilate(ref_ink.astype(np.uint8), np.ones((grow, grow), np.uint8)).astype(bool)
    cleaned = crop.copy()
    cleaned[drop] = 255
    return Cut(crop, cleaned, drop, fit)
