"""Scan-like degradation of a clean 300-dpi page: the transform and the noise of a scanner."""

from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.records import Gray


@dataclass(frozen=True)
class ScanStyle:
    rotate_deg: float = 3.0  # up to +/- this
    scale: float = 0.03  # up to +/- this
    shift_px: int = 30
    perspective_px: float = 10.0  # corner jitter
    blur_sigma: tuple[float, float] = (0.5, 1.0)
    noise_sigma: tuple[float, float] = (3.0, 7.0)
    paper: tuple[int, int] = (232, 250)
    upside_down: bool = False


def scan_like(img: Gray, rng: random.Random, style: ScanStyle) -> tuple[Gray, NDArray[np.float64]]:
    """A degraded copy and the homography clean -> degraded (before any 180 turn)."""
    h, w = img.shape
    angle = rng.uniform(-style.rotate_deg, style.rotate_deg)
    scale = 1 + rng.uniform(-style.scale, style.scale)
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    a = np.vstack([rot, [0, 0, 1]])
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    j = style.perspective_px
    jitter = [[rng.uniform(-j, j), rng.uniform(-j, j)] for _ in range(4)]
    dst = src + np.array(jitter, dtype=np.float32)
    p = cv2.getPerspectiveTransform(src, dst).astype(np.float64)
    t = np.array(
        [
            [1, 0, rng.randint(-style.shift_px, style.shift_px)],
            [0, 1, rng.randint(-style.shift_px, style.shift_px)],
            [0, 0, 1],
        ],
        np.float64,
    )
    hom = t @ p @ a
    paper = rng.randint(*style.paper)
    # Paper tone: the clean page is white (255); scale so white becomes the paper level.
    toned = (img.astype(np.float32) * (paper / 255.0)).astype(np.uint8)
    out = cv2.warpPerspective(
        toned,
        hom,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=paper,
    )
    sigma = rng.uniform(*style.blur_sigma)
    out = cv2.GaussianBlur(out, (0, 0), sigma)
    nrng = np.random.default_rng(rng.randrange(2**32))
    noise = nrng.normal(0, rng.uniform(*style.noise_sigma), out.shape)
    out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if style.upside_down:
        out = cv2.rotate(out, cv2.ROTATE_180)
    return out, hom


def bilevel(img: Gray, threshold: int = 170) -> Gray:
    """What a black-and-white (Group 4) scanner keeps: ink or paper, nothing between."""
    return np.where(img < threshold, 0, 255).astype(np.uint8)
