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


def _ink_loss(img: Gray, rng: np.random.Generator, strength: float) -> Gray:
    """Worn toner: ink fades in soft blotches."""
    h, w = img.shape
    field = cv2.resize(
        rng.random((h // 40 + 1, w // 40 + 1)).astype(np.float32),
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    fade = np.clip((field - (1 - strength)) / strength, 0, 1) * 0.75
    paper = float(np.percentile(img[::8, ::8], 90))
    out = img.astype(np.float32) + (paper - img.astype(np.float32)) * fade
    return np.clip(out, 0, 255).astype(np.uint8)


def _bleed_through(img: Gray, strength: float) -> Gray:
    """The back of the sheet showing through: the page mirrored, faint and blurred."""
    ghost = cv2.GaussianBlur(cv2.flip(img, 1), (0, 0), 2.0).astype(np.float32)
    out = img.astype(np.float32) - (255.0 - ghost) * strength
    return np.clip(out, 0, 255).astype(np.uint8)


def _wobble(img: Gray, rng: np.random.Generator, amplitude: float) -> Gray:
    """A non-rigid warp: paper that was not flat on the glass."""
    h, w = img.shape
    grid = (h // 300 + 2, w // 300 + 2)
    dx = cv2.resize(
        (rng.random(grid) - 0.5).astype(np.float32) * 2 * amplitude,
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    dy = cv2.resize(
        (rng.random(grid) - 0.5).astype(np.float32) * 2 * amplitude,
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


LEVELS = ("clean", "office", "fax", "harsh")


def degrade(img: Gray, rng: random.Random, level: str) -> tuple[Gray, NDArray[np.float64], int]:
    """(scan, homography clean -> scan, dpi) for a named degradation level.

    clean: the render as is. office: a decent office scanner (small rotation, slight blur
    and noise; saved as JPEG by the caller). fax: 200 dpi bilevel with stronger noise.
    harsh: office plus ink loss, bleed-through and a non-rigid warp (the homography is
    then only the rigid part).
    """
    if level == "clean":
        return img.copy(), np.eye(3), 300
    if level == "office":
        out, hom = scan_like(img, rng, ScanStyle())
        return out, hom, 300
    if level == "fax":
        out, hom = scan_like(
            img, rng, ScanStyle(rotate_deg=2.0, noise_sigma=(8.0, 14.0), blur_sigma=(0.6, 1.1))
        )
        f = 200 / 300
        small = cv2.resize(out, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        return bilevel(small, 150), np.diag([f, f, 1.0]) @ hom, 200
    if level == "harsh":
        nrng = np.random.default_rng(rng.randrange(2**32))
        worn = _bleed_through(_ink_loss(img, nrng, 0.35), 0.12)
        out, hom = scan_like(worn, rng, ScanStyle(noise_sigma=(6.0, 10.0), blur_sigma=(0.8, 1.3)))
        return _wobble(out, nrng, 3.0), hom, 300
    raise ValueError(f"unknown degradation level {level!r}; one of {', '.join(LEVELS)}")
