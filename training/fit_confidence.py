"""Fit the confidence calibration: ``make calibration`` (one command, reproducible).

    .venv/bin/python training/fit_confidence.py [--forms 64] [--out training/out]

1. Generates the varied corpus (``pipeline.samplegen.varied``: random forms with every
   field kind, five fonts at 7-12 pt, clean/office/fax/harsh scans) with a fixed seed;
   every fourth form is held out for the figures.
2. Runs the real pipeline on it with a bootstrap calibration that reads every text field
   twice, and keeps each field's evidence and whether its value was right.
3. Fits per kind a logistic model on standardized features (half of the fit forms) and an
   isotonic map from its score to the share right (the other half), with scikit-learn;
   the ``second`` model (with the two readings' agreement) only on the fields the first
   model would send to a second reading.
4. Writes ``pipeline/models/confidence.json`` (evaluated with numpy at run time), the
   model card ``pipeline/models/confidence.md`` with sources, versions, SHA-256 and the
   held-out figures, and the reliability diagram ``docs/img/calibration-reliability.png``.

scikit-learn and matplotlib come from the ``train`` extra: not runtime dependencies.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

from calibration_data import Sample, collect  # noqa: E402
from calibration_report import write_card, write_plot  # noqa: E402

from pipeline.calibration import FORMAT, KINDS, TEXT_KINDS, Calibration, KindModel, Model  # noqa: E402
from pipeline.samplegen import varied  # noqa: E402

SEED = 11
LEVELS = ("clean", "office", "fax", "harsh")
USUAL = ("office", "fax")
BINS = 1000
TARGET = 0.003  # the default review.max_residual_error: where second readings start


def _fit(x: np.ndarray, y: np.ndarray, split: np.ndarray) -> dict[str, Any]:
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    a, b = split, ~split
    if len(set(y[a])) < 2 or len(set(y[b])) < 2:
        a = b = np.ones(len(y), dtype=bool)  # too few of one class to split
    if len(set(y[a])) < 2:  # all right (or all wrong): a constant model
        coef, intercept = np.zeros(x.shape[1]), 0.0
        rate = float(y.mean())
        return _model(mean, scale, coef, intercept, [0.0, 1.0], [rate, rate])
    lr = LogisticRegression(C=1.0, max_iter=2000).fit(z[a], y[a])
    s = lr.predict_proba(z[b])[:, 1]
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, y[b])
    return _model(
        mean, scale, lr.coef_[0], float(lr.intercept_[0]), iso.X_thresholds_, iso.y_thresholds_
    )


def _model(
    mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: float, xs: Any, ys: Any
) -> dict[str, Any]:
    return {
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "coef": [round(float(v), 6) for v in coef],
        "intercept": round(intercept, 6),
        "iso_x": [round(float(v), 6) for v in xs],
        "iso_y": [round(float(v), 6) for v in ys],
    }


def fit(samples: list[Sample]) -> dict[str, Any]:
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        mine = [s for s in samples if s.kind == kind]
        if not mine:
            raise SystemExit(f"no samples of kind {kind}: enlarge the corpus")
        y = np.array([s.right for s in mine], dtype=int)
        split = np.array([s.form % 2 == 0 for s in mine])
        first = _fit(np.array([s.first for s in mine]), y, split)
        m1 = Model.from_json(first)
        p1 = np.array([m1.probability(s.first) for s in mine])
        # The thresholds follow the scans blankett is for (office scanners and faxes):
        # clean renders and the harsh level teach the models, not the operating point.
        usual = np.array([s.level in USUAL for s in mine])
        hist = np.histogram(p1[usual], bins=BINS, range=(0.0, 1.0))[0]
        entry: dict[str, Any] = {"first": first, "second": None, "histogram": hist.tolist()}
        if kind in TEXT_KINDS:
            cut = KindModel(m1, None, tuple(int(c) for c in hist)).threshold(TARGET)
            unsure = p1 < cut
            if unsure.sum() >= 40 and len(set(y[unsure])) == 2:
                xs = np.array([s.second for s, u in zip(mine, unsure, strict=True) if u])
                entry["second"] = _fit(xs, y[unsure], split[unsure])
        kinds[kind] = entry
    return {"format": FORMAT, "kinds": kinds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--forms", type=int, default=64)
    ap.add_argument("--per-form", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "training" / "out")
    ap.add_argument("--reuse", action="store_true", help="reuse the corpus and readings in --out")
    ap.add_argument("--reread", action="store_true", help="with --reuse: read the corpus again")
    ap.add_argument("--models", type=Path, default=ROOT / "pipeline" / "models")
    args = ap.parse_args()

    data, corpus = args.out / "fields.jsonl", args.out / "corpus"
    if not (args.reuse and corpus.is_dir()):
        written = list(varied.generate(corpus, args.forms, args.per_form, LEVELS, SEED))
        print(f"corpus: {len(written)} scans of {args.forms} forms", flush=True)
    if not (args.reuse and data.is_file()) or args.reread:
        collect(corpus, data)
    samples = [Sample.from_json(json.loads(line)) for line in data.read_text().splitlines()]
    held = [s for s in samples if s.form % 4 == 3]
    model = fit([s for s in samples if s.form % 4 != 3])
    model["card"] = {"seed": SEED, "forms": args.forms, "levels": list(LEVELS)}
    args.models.mkdir(parents=True, exist_ok=True)
    path = args.models / "confidence.json"
    path.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
    from pipeline.calibration import load

    cal: Calibration = load(path)
    write_card(args.models / "confidence.md", path, cal, samples, held, args.forms, SEED)
    write_plot(ROOT / "docs" / "img" / "calibration-reliability.png", cal, held)
    print(f"wrote {path} and its model card", flush=True)


if __name__ == "__main__":
    main()
