"""The calibration's model card and reliability diagram, from the held-out forms.

The held-out fields go through the same policy as at run time: the first model, and
where it is under its kind's threshold the second one (with the readings' agreement).
"""

from __future__ import annotations

import hashlib
import itertools
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
from calibration_data import Sample

from pipeline.calibration import TEXT_KINDS, Calibration

TARGET = 0.003
FLOOR = 0.9  # review.min_confidence's default: no single value accepted under it
EDGES = np.linspace(0.0, 1.0, 11)


def final_p(cal: Calibration, thresholds: dict[str, float], s: Sample) -> float:
    km = cal.kinds[s.kind]
    p = km.first.probability(s.first)
    if s.kind in TEXT_KINDS and p < thresholds[s.kind] and km.second is not None:
        p = km.second.probability(s.second)
    return p


def reliability(ps: np.ndarray, right: np.ndarray) -> list[tuple[float, float, int, float]]:
    """Per bin of 0.1: (bin low, mean p, count, share right)."""
    out = []
    for lo, hi in itertools.pairwise(EDGES):
        m = (ps >= lo) & ((ps < hi) if hi < 1 else (ps <= hi))
        if m.any():
            out.append((float(lo), float(ps[m].mean()), int(m.sum()), float(right[m].mean())))
    return out


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def write_card(
    card: Path,
    model: Path,
    cal: Calibration,
    samples: Sequence[Sample],
    held: Sequence[Sample],
    forms: int,
    seed: int,
) -> None:
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    th = _thresholds(cal)
    tessdata = Path("/usr/share/tesseract-ocr/5/tessdata")
    lines = [
        "# Model card: confidence calibration (`confidence.json`)",
        "",
        "What it is: per kind of field, a logistic model over a reading's evidence and an",
        "isotonic map from its score to the share of right values (pipeline/calibration.py).",
        "Made by `make calibration` (training/fit_confidence.py); do not edit by hand.",
        "",
        f"- SHA-256 of confidence.json: `{sha}`",
        f"- Data: the project's own generator (pipeline/samplegen/varied.py), seed {seed}, "
        f"{forms} random forms x 2 fillings x 4 scan levels (clean, office, 200-dpi fax, "
        "harsh); five PDF base fonts at 7-12 pt; values from pipeline/samplegen/values.py "
        "and diacritics.py. Every fourth form is held out for the figures below.",
        f"- Fields: {len(samples)} read ({len(samples) - len(held)} fit, {len(held)} held out).",
        "- Word lists: Tesseract's own (tesseract-ocr-swe / -eng language data, Apache-2.0).",
        "- Second reading: PaddleOCR's PP-OCRv6 small recogniser, the ONNX file inside the "
        "rapidocr wheel (Apache-2.0); its agreement is an input of the `second` models.",
        f"- Versions: Python {platform.python_version()}, scikit-learn "
        f"{_version('scikit-learn')}, numpy {_version('numpy')}, tesserocr "
        f"{_version('tesserocr')}, rapidocr {_version('rapidocr')}, onnxruntime "
        f"{_version('onnxruntime')}, swe.traineddata SHA-256 "
        f"`{_sha(tessdata / 'swe.traineddata')[:16]}...`.",
        "- Licence: the file is the project's (EUPL-1.2); no third-party data is in it.",
        "",
        "## Held-out figures",
        "",
        f"Thresholds for review.max_residual_error = {TARGET} (at least review.min_confidence",
        f"= {FLOOR}) and what they do on the held-out forms (all scan levels together):",
        "",
        "| kind | fields | right | threshold | accepted | wrong among accepted |",
        "|---|---|---|---|---|---|",
    ]
    all_p, all_r = [], []
    for kind in cal.kinds:
        mine = [s for s in held if s.kind == kind]
        if not mine:
            continue
        ps = np.array([final_p(cal, th, s) for s in mine])
        right = np.array([s.right for s in mine], dtype=float)
        all_p.append(ps)
        all_r.append(right)
        acc = ps >= th[kind]
        wrong = float(1 - right[acc].mean()) if acc.any() else 0.0
        lines.append(
            f"| {kind} | {len(mine)} | {right.mean():.1%} | {th[kind]:.3f} | "
            f"{acc.mean():.1%} | {wrong:.2%} |"
        )
    lines += [
        "",
        "By scan level (held out, every kind):",
        "",
        "| level | fields | right | accepted | wrong among accepted |",
        "|---|---|---|---|---|",
    ]
    for level in sorted({s.level for s in held}):
        mine = [s for s in held if s.level == level]
        acc = [s for s in mine if final_p(cal, th, s) >= th[s.kind]]
        wrong = sum(not s.right for s in acc) / max(len(acc), 1)
        lines.append(
            f"| {level} | {len(mine)} | {sum(s.right for s in mine) / len(mine):.1%} | "
            f"{len(acc) / len(mine):.1%} | {wrong:.2%} |"
        )
    ps, right = np.concatenate(all_p), np.concatenate(all_r)
    lines += [
        "",
        "Reliability (every kind, held out): in each bin of calibrated confidence, the share",
        "of values that were right.",
        "",
        "| bin | fields | mean confidence | share right | gap |",
        "|---|---|---|---|---|",
    ]
    for lo, mean, n, share in reliability(ps, right):
        lines.append(
            f"| {lo:.1f}-{lo + 0.1:.1f} | {n} | {mean:.3f} | {share:.3f} | "
            f"{abs(mean - share) * 100:.1f} pt |"
        )
    card.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _thresholds(cal: Calibration) -> dict[str, float]:
    """As at run time with the default config: the target's, at least the floor."""
    return {k: max(t, FLOOR) for k, t in cal.thresholds(TARGET).items()}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "unknown"


def write_plot(png: Path, cal: Calibration, held: Sequence[Sample]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    th = _thresholds(cal)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect")
    for name, kinds in (("text fields", TEXT_KINDS), ("marks and blanks", ("mark", "blank"))):
        mine = [s for s in held if s.kind in kinds]
        ps = np.array([final_p(cal, th, s) for s in mine])
        right = np.array([s.right for s in mine], dtype=float)
        bins = reliability(ps, right)
        ax.plot([b[1] for b in bins], [b[3] for b in bins], marker="o", label=name)
        for b in bins:  # how many fields stand behind each point
            ax.annotate(
                str(b[2]), (b[1], b[3]), textcoords="offset points", xytext=(4, -10), fontsize=7
            )
        raw = np.array([s.p_raw for s in mine])
        if name == "text fields":
            rb = reliability(raw, right)
            ax.plot(
                [b[1] for b in rb],
                [b[3] for b in rb],
                marker="x",
                ls=":",
                label="engine confidence (before)",
            )
    ax.set_xlabel("confidence")
    ax.set_ylabel("share of values right")
    ax.set_title("Reliability, held-out generated forms")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
