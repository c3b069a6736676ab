"""Calibrated confidence: the probability that a field's value is right, and the review
threshold per field kind that keeps the wrong values among accepted ones under a target.

A reading's evidence (engine character confidences, a second reading's agreement, the
word list, ink touching the form's print, local and page alignment; see
``records.Evidence``) goes through a logistic model per kind of field, then an isotonic
map from that score to the share of right values measured at that score. Both were fit
on the project's own generated corpus (``make calibration``, ``training/``) and ship as
one small JSON file (``pipeline/models/confidence.json``, model card beside it); here they
are only evaluated, with numpy, so scikit-learn stays out of the runtime.

Kinds of field whose errors behave alike share a model: a checksum makes a misread
personnummer rare; a misread date still parses, like any other digits. A text
reading goes through the ``first`` model; where its probability is under the kind's
threshold, extract reads again and the ``second`` model, which also knows whether the
two readings agreed, decides.

The threshold for ``review.max_residual_error`` comes from the distribution of
probabilities the fit saw per kind: the lowest threshold above which the expected share
of wrong values is at most the target.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ConfigError
from pipeline.fieldtypes import FIELD_TYPES
from pipeline.lexicon import Lexicon
from pipeline.records import Evidence

MODEL_FILE = "confidence.json"
FORMAT = 1
# Never quite sure: the fit saw a few thousand fields per kind, not millions.
CEILING = 0.999

# Field type -> the kind of model that judges it. Barcodes carry their own checksum.
KIND_OF: Mapping[str, str] = {
    "text": "text",
    "number": "digits",
    "amount": "digits",
    "postnummer": "digits",
    "phone": "digits",
    # A misread digit in a date still makes a date: dates err as digits do (and alone
    # they are too few in the corpus for a model of their own).
    "date": "digits",
    "personnummer": "checked",
    "organisationsnummer": "checked",
    "bankgiro": "checked",
    "plusgiro": "checked",
    "email": "email",
    "checkbox": "mark",
    "choice": "mark",
    "signature": "mark",
}
if set(KIND_OF) | {"barcode"} != set(FIELD_TYPES):
    raise AssertionError("every field type but barcode needs a calibration kind")
BLANK = "blank"  # a text field read as empty
# A reading's ink touches the form's print when more than this share of it lies beside
# pixels dropout took (strokes may have gone with the lines).
TOUCHING = 0.01


def agreement_counts(ev: Evidence) -> bool:
    """Two readings agree, and their agreement is evidence: it speaks against an engine's
    noise, not against ink missing from the page (both readings see the same cut-off
    descenders and the same strokes dropout took with the form's lines)."""
    return bool(ev.agree) and not ev.cut_off and ev.overlap <= TOUCHING


TEXT_KINDS = ("text", "digits", "checked", "email")
KINDS = (*TEXT_KINDS, "mark", BLANK)


def features(kind: str, ev: Evidence, second: bool) -> list[float]:
    """The model's inputs for ``kind``; ``second`` adds the agreement of two readings."""
    if kind == "mark":
        return [ev.margin, ev.page_quality, ev.local_fit]
    if kind == BLANK:
        return [math.log1p(ev.ink_px), ev.page_quality, ev.local_fit]
    out = [
        ev.engine_min,
        ev.engine_mean,
        math.log1p(ev.chars),
        # One glyph alone in its box (codes printed box by box): no word around it to
        # misjoin or to check, a case apart from short words.
        float(ev.chars == 1),
        float(ev.overlap > TOUCHING),
        min(ev.overlap, 0.2),
        ev.local_fit,
        ev.page_quality,
        float(ev.words > 0),
        ev.known if ev.words else 0.0,
        ev.compound if ev.words else 0.0,
        ev.doubtful if ev.words else 0.0,
        float(ev.restored),
        # A box that cut off descenders, and the share of words the list could not vouch
        # for there: what a g, j, p, q or y was is not on the page.
        float(ev.cut_off),
        ev.clipped,
    ]
    if second:
        out += [1.0 if ev.agree else 0.0, ev.second_min]
    return out


@dataclass(frozen=True)
class Model:
    """Standardize, logistic, isotonic: the three steps of one fitted model."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    iso_x: tuple[float, ...]
    iso_y: tuple[float, ...]

    def probability(self, x: Sequence[float]) -> float:
        z = (np.asarray(x) - np.asarray(self.mean)) / np.asarray(self.scale)
        score = float(np.dot(z, self.coef) + self.intercept)
        s = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, score))))
        p = float(np.interp(s, self.iso_x, self.iso_y))
        return max(0.0, min(CEILING, p))

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Model:
        return cls(
            tuple(d["mean"]),
            tuple(d["scale"]),
            tuple(d["coef"]),
            float(d["intercept"]),
            tuple(d["iso_x"]),
            tuple(d["iso_y"]),
        )


@dataclass(frozen=True)
class KindModel:
    first: Model
    second: Model | None
    # How many fields the fit saw at each probability (first model), in bins of 0.001:
    # the basis of the threshold for a target error.
    histogram: tuple[int, ...]

    def threshold(self, max_error: float) -> float:
        """The lowest probability to accept at, such that the expected share of wrong
        values among the accepted ones stays at or under ``max_error``."""
        counts = np.asarray(self.histogram, dtype=np.float64)
        p = (np.arange(len(counts)) + 0.5) / len(counts)
        # From the top bin down: accepted count and expected wrong ones so far.
        n = np.cumsum(counts[::-1])
        wrong = np.cumsum((counts * (1.0 - p))[::-1])
        # p falls bin by bin, so the running mean error only grows: the accepted set is
        # the longest run from the top that keeps the promise, and the threshold is the
        # lower edge of its last bin that holds fields (below it the fit saw nothing to
        # vouch for).
        ok = np.flatnonzero((counts[::-1] > 0) & (wrong <= max_error * n))
        if not len(ok):
            return 1.0
        return float(len(counts) - 1 - int(ok[-1])) / len(counts)


@dataclass(frozen=True)
class Calibration:
    """Every kind's models, as read from the shipped file."""

    kinds: Mapping[str, KindModel]
    card: Mapping[str, Any]

    def probability(self, kind: str, ev: Evidence) -> float:
        km = self.kinds[kind]
        # In a box that cut off descenders the two readings see the same cut letters and
        # the word list turns a cut name into a word for both ("Al-Sayed" as "Al-Saved"),
        # which no generated corpus shows: there agreement is no evidence.
        second = ev.agree is not None and km.second is not None and not ev.cut_off
        model = km.second if second and km.second is not None else km.first
        return model.probability(features(kind, ev, second))

    def thresholds(self, max_error: float) -> dict[str, float]:
        return {k: m.threshold(max_error) for k, m in self.kinds.items()}


def load(path: Path | None = None) -> Calibration:
    """The shipped calibration, or the file at ``path``."""
    if path is None:
        text = resources.files("pipeline.models").joinpath(MODEL_FILE).read_text("utf-8")
        where = f"pipeline/models/{MODEL_FILE}"
    else:
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        kinds = {
            k: KindModel(
                Model.from_json(v["first"]),
                Model.from_json(v["second"]) if v.get("second") else None,
                tuple(int(c) for c in v["histogram"]),
            )
            for k, v in data["kinds"].items()
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the confidence calibration is unreadable ({exc})", path=where) from None
    missing = [k for k in KINDS if k not in kinds]
    if missing:
        raise ConfigError(f"the confidence calibration lacks kinds {missing}", path=where)
    return Calibration(kinds, data.get("card", {}))


@dataclass(frozen=True)
class Trust:
    """What a process judges readings with: the calibration, the thresholds for the
    configured target, and the word lists by OCR language (``swe``, ``swe+eng``)."""

    calibration: Calibration
    thresholds: Mapping[str, float]
    lexicons: Mapping[str, Lexicon]
    # A value two different readings agree on is accepted from this probability on
    # (review.accept_agreeing; 1.0: agreement gets no threshold of its own).
    agreed: float = 1.0
    # Read every text field a second time, sure or not (for fitting the calibration,
    # which must see both readings of every field).
    read_twice: bool = False

    def sure(self, kind: str, p: float) -> bool:
        return p >= self.thresholds[kind]

    def threshold_for(self, kind: str, ev: Evidence) -> float:
        """The probability this reading must reach to be accepted: its kind's threshold,
        or the agreement floor where two readings agree (``agreement_counts``)."""
        if agreement_counts(ev):
            return min(self.thresholds[kind], self.agreed)
        return self.thresholds[kind]
