"""Straight-through against residual error, and confidence against being right.

The acceptance threshold is swept over every confidence that occurs (no grid: the
confidences bunch just under 1.0, where a grid of 0.02 steps sees one point). At a
threshold t a field is accepted when its confidence reaches t and it has no issue (a field
with an issue always goes to a person; ``low_confidence`` is the threshold's own verdict,
so the sweep leaves it out); a record goes straight through when nothing blocks it and
its lowest field confidence reaches t. The residual error is the share of
accepted fields that are wrong; the straight-through rate is the share of records that
need no person at all.

The reliability diagram puts the fields' confidences in ten bins and compares each bin's
mean confidence with the share of its values that are right: a calibrated confidence
lies on the diagonal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rows import FieldRow, RecordRow, blocking

STP_TARGETS = (0.70, 0.80, 0.90)
RESIDUAL_TARGETS = (0.003, 0.005)


@dataclass(frozen=True)
class Point:
    threshold: float
    stp: float  # share of records straight through
    residual: float  # share of accepted fields that are wrong
    accepted: int  # fields accepted


def sweep(fields: Sequence[FieldRow], records: Sequence[RecordRow]) -> list[Point]:
    """One point per distinct threshold, from accepting everything to the strictest."""
    ok = np.array([not blocking(f.issues) for f in fields], bool)
    conf = np.array([f.confidence for f in fields], float)
    wrong = np.array([not f.exact for f in fields], bool)
    gates = np.sort(np.array([r.gate for r in records if not r.blocked], float))
    acc_conf = np.sort(conf[ok])
    bad_conf = np.sort(conf[ok & wrong])
    ts = np.unique(np.concatenate([[0.0], conf, gates, [np.nextafter(1.0, 2.0)]]))
    n_rec = max(len(records), 1)
    # Counts of values >= t in a sorted array, for every t at once.
    stp = (len(gates) - np.searchsorted(gates, ts, side="left")) / n_rec
    acc = len(acc_conf) - np.searchsorted(acc_conf, ts, side="left")
    bad = len(bad_conf) - np.searchsorted(bad_conf, ts, side="left")
    res = np.divide(bad, acc, out=np.zeros(len(ts)), where=acc > 0)
    return [
        Point(float(t), float(s), float(r), int(a))
        for t, s, r, a in zip(ts, stp, res, acc, strict=True)
    ]


def residual_at_stp(curve: Sequence[Point], stp: float) -> Point | None:
    """The lowest residual error among thresholds that keep at least ``stp`` straight
    through; None when no threshold reaches it."""
    reach = [p for p in curve if p.stp >= stp]
    return min(reach, key=lambda p: (p.residual, -p.stp)) if reach else None


def stp_at_residual(curve: Sequence[Point], residual: float) -> Point | None:
    """The highest straight-through rate among thresholds whose residual error is at most
    ``residual`` (with something accepted); None when none is that low."""
    ok = [p for p in curve if p.residual <= residual and p.accepted > 0]
    return max(ok, key=lambda p: (p.stp, -p.residual)) if ok else None


def table_row(curve: Sequence[Point]) -> dict[str, Point | None]:
    """The small table: residual at 70/80/90 % straight-through, straight-through at a
    residual of 0.3 % and 0.5 %."""
    out: dict[str, Point | None] = {}
    for s in STP_TARGETS:
        out[f"residual@stp{round(100 * s)}"] = residual_at_stp(curve, s)
    for r in RESIDUAL_TARGETS:
        out[f"stp@residual{100 * r:.1f}"] = stp_at_residual(curve, r)
    return out


@dataclass(frozen=True)
class Bin:
    lo: float
    hi: float
    count: int
    mean_confidence: float
    share_right: float


def reliability(fields: Sequence[FieldRow], bins: int = 10) -> list[Bin]:
    """Ten bins of confidence, [0, 0.1) .. [0.9, 1.0]; empty bins are left out."""
    conf = np.array([f.confidence for f in fields], float)
    right = np.array([f.exact for f in fields], bool)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        sel = idx == b
        if sel.any():
            out.append(
                Bin(
                    b / bins,
                    (b + 1) / bins,
                    int(sel.sum()),
                    float(conf[sel].mean()),
                    float(right[sel].mean()),
                )
            )
    return out


def calibration_error(bins: Sequence[Bin]) -> tuple[float, float]:
    """(expected calibration error, the largest gap of a bin), both as shares."""
    n = sum(b.count for b in bins)
    if not n:
        return 0.0, 0.0
    gaps = [abs(b.share_right - b.mean_confidence) for b in bins]
    return sum(g * b.count for g, b in zip(gaps, bins, strict=True)) / n, max(gaps)
