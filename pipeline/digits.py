"""Handwritten digits: the run-time side of the digit model (issue 13).

A form's digit boxes are cut out as dark ink on light paper; ``to_mnist`` turns each
cut-out into the 28x28 picture the model was trained on (MNIST's convention), and
``DigitReader`` runs the shipped ONNX model (``pipeline/models/digits.onnx``) over a
batch of them, giving calibrated probabilities for 0-9.

Only numpy, OpenCV and onnxruntime are used here. The model is made by
``training/train_digits.py`` (``make models``), which imports ``to_mnist`` from this
module, so that training and run time prepare a glyph in exactly the same way; its
model card is ``pipeline/models/digits.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.errors import ConfigError
from pipeline.imaging import paper_level
from pipeline.records import Gray

if TYPE_CHECKING:
    import onnxruntime

MODEL_FILE = "digits.onnx"
SIDE = 28  # MNIST: 28x28 pixels ...
BOX = 20  # ... with the digit's longer side scaled to 20 ...
CENTRE = 14.0  # ... and its centre of mass at pixel (14, 14), as measured on MNIST itself
CLASSES = 10

# Below this paper-to-ink contrast (grey levels) the cut-out holds no writing: a faint
# scanner shadow stretched to full contrast would otherwise be read as a digit.
MIN_CONTRAST = 40.0
# Ink is measured from the paper (0) to the darkest stroke (1). Paper texture and noise
# stay under INK_LOW and become black, like MNIST's background; a stroke's core is over
# INK_HIGH; the ramp between keeps the stroke's anti-aliased edge, as MNIST has one.
INK_LOW = 0.25
INK_HIGH = 0.75
# Specks (dust, a stray dot of the box's pre-print) smaller than this share of the
# largest ink part would stretch the digit's bounding box; a digit's own detached strokes
# (the flag of a 5, an open 4) are far larger.
SPECK_SHARE = 0.04
MIN_PART_PX = 3


def _ink(glyph: Gray) -> NDArray[np.float32]:
    """How much ink each pixel holds, 0 (paper) to 1 (the darkest stroke)."""
    img = glyph.astype(np.float32)
    paper = paper_level(glyph)
    # The darkest stroke after a light blur, so that one dark noise pixel cannot set the
    # scale and wash every real stroke out to grey.
    dark = float(cv2.GaussianBlur(img, (3, 3), 0).min())
    if paper - dark < MIN_CONTRAST:
        return np.zeros(glyph.shape, np.float32)
    ink = np.clip((paper - img) / (paper - dark), 0.0, 1.0)
    out: NDArray[np.float32] = np.clip((ink - INK_LOW) / (INK_HIGH - INK_LOW), 0.0, 1.0)
    return out


def _without_specks(ink: NDArray[np.float32]) -> NDArray[np.float32]:
    mask = (ink >= 0.5).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return np.zeros_like(ink)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(n, dtype=bool)
    keep[1:] = areas >= max(MIN_PART_PX, SPECK_SHARE * float(areas.max()))
    kept = keep[labels].astype(np.uint8)
    # Grown by a pixel so the kept strokes keep their soft edges (which lie under 0.5).
    near = cv2.dilate(kept, np.ones((3, 3), np.uint8)).astype(bool)
    out: NDArray[np.float32] = np.where(near, ink, 0.0).astype(np.float32)
    out[(kept == 0) & (ink >= 0.5)] = 0.0
    return out


def to_mnist(glyph: Gray) -> Gray:
    """A cut-out digit (dark ink on light paper, uint8, any size) as the model's input.

    MNIST's convention: white digit on black, 28x28, the digit scaled (keeping its aspect
    ratio) so its longer side is 20 pixels, then moved so that its centre of mass falls
    on pixel (14, 14). Without ink, or with too little contrast, the result is all black.
    """
    img = np.asarray(glyph)
    if img.ndim != 2:
        raise ValueError(f"a glyph is a 2-D grayscale image, got shape {img.shape}")
    if img.dtype != np.uint8:
        raise ValueError(f"a glyph is uint8, got {img.dtype}")
    out = np.zeros((SIDE, SIDE), np.uint8)
    if img.size == 0:
        return out
    ink = _without_specks(_ink(img))
    ys, xs = np.nonzero(ink >= 0.5)
    if ys.size == 0:
        return out
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # INTER_AREA averages when shrinking (MNIST's anti-aliasing); it would block up a
    # glyph smaller than the box, which bilinear enlarges smoothly.
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    small = np.clip(cv2.resize(crop, size, interpolation=interp), 0.0, 1.0)
    # A thin pen shrunk to 20 pixels turns grey; MNIST's strokes always reach full white.
    peak = float(small.max())
    if peak <= 0.0:
        return out
    small /= peak
    moments = cv2.moments(small)
    cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
    # Whole-pixel moves, as in MNIST (its centres of mass spread +-0.5 px around 14).
    top, left = round(CENTRE - cy), round(CENTRE - cx)
    sh, sw = small.shape
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(SIDE, top + sh), min(SIDE, left + sw)
    if y1 <= y0 or x1 <= x0:
        return out
    patch = small[y0 - top : y1 - top, x0 - left : x1 - left]
    out[y0:y1, x0:x1] = np.round(patch * 255.0).astype(np.uint8)
    return out


class DigitReader:
    """The digit model: probabilities for 0-9 over a batch of cut-out glyphs.

    Made with ``DigitReader.load()``; one onnxruntime session on one thread, since
    blankett already runs one worker process per core.
    """

    def __init__(self, session: onnxruntime.InferenceSession, where: str) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name
        self.where = where

    @classmethod
    def load(cls, path: Path | None = None) -> DigitReader:
        """The shipped model, or the ONNX file at ``path``."""
        # Imported here: importing blankett must not load onnxruntime's native library.
        import onnxruntime

        if path is None:
            where = f"pipeline/models/{MODEL_FILE}"
            try:
                data = resources.files("pipeline.models").joinpath(MODEL_FILE).read_bytes()
            except FileNotFoundError:
                raise ConfigError("the digit model is missing (make models)", path=where) from None
        else:
            where = str(path)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ConfigError(f"the digit model is unreadable ({exc})", path=where) from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(
                data, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ConfigError(f"the digit model is not valid ONNX ({exc})", path=where) from None
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if (
            len(inputs) != 1
            or list(inputs[0].shape)[1:] != [1, SIDE, SIDE]
            or len(outputs) != 1
            or list(outputs[0].shape)[1:] != [CLASSES]
        ):
            raise ConfigError(
                f"the digit model takes [N,1,{SIDE},{SIDE}] and gives [N,{CLASSES}]", path=where
            )
        return cls(session, where)

    def read(self, glyphs: Sequence[Gray]) -> NDArray[np.float32]:
        """Probabilities [N, 10] for cut-out glyphs (dark ink on light paper)."""
        if len(glyphs) == 0:  # len, not truth: a stacked numpy batch is a Sequence too
            return np.zeros((0, CLASSES), np.float32)
        return self.read_mnist(np.stack([to_mnist(g) for g in glyphs]))

    def read_mnist(self, images: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Probabilities [N, 10] for images already in MNIST form ([N, 28, 28] uint8)."""
        if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
            raise ValueError(f"expected [N, {SIDE}, {SIDE}] images, got {images.shape}")
        if len(images) == 0:
            return np.zeros((0, CLASSES), np.float32)
        x = (images.astype(np.float32) / 255.0)[:, None, :, :]
        (probs,) = self._session.run(None, {self._input: x})
        out: NDArray[np.float32] = np.asarray(probs, dtype=np.float32)
        return out
