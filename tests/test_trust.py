"""Trust in a reading (issue 11): the calibration's thresholds, the shipped model and its
card, the word list, and the second reading where the first is not sure."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from importlib import resources

import cv2
import numpy as np
import pytest

from pipeline import calibration, lexicon
from pipeline.calibration import KINDS, KindModel, Model, Trust
from pipeline.config import AlignConfig, Config
from pipeline.digits import DigitReader
from pipeline.errors import ConfigError
from pipeline.ports import OcrHints, OcrResult
from pipeline.records import Evidence, FieldReading, Gray
from pipeline.stages.read_hand import HandReaders
from pipeline.stages.read_text import ExtractContext, _better_suggestion, _same, read_text_crop
from pipeline.stages.validate import validate
from pipeline.templates.schema import TemplateSpec


def _flat(p: float) -> Model:
    """A model that says ``p`` whatever the evidence."""
    return Model((0.0,), (1.0,), (0.0,), 0.0, (0.0, 1.0), (p, p))


def test_threshold_keeps_the_expected_error_under_the_target():
    # 900 fields at p ~ 0.9995, 100 at ~ 0.95: all together 0.54 % wrong expected.
    hist = [0] * 1000
    hist[999], hist[950] = 900, 100
    km = KindModel(_flat(0.5), None, tuple(hist))
    assert km.threshold(0.003) == pytest.approx(0.999)  # only the sure ones
    assert km.threshold(0.01) == pytest.approx(0.950)  # the target admits both
    assert KindModel(_flat(0.5), None, (0,) * 999 + (0,)).threshold(0.003) == 1.0


def test_the_shipped_calibration_loads_and_its_card_names_its_hash():
    cal = calibration.load()
    assert set(KINDS) <= set(cal.kinds)
    files = resources.files("pipeline.models")
    sha = hashlib.sha256(files.joinpath("confidence.json").read_bytes()).hexdigest()
    card = files.joinpath("confidence.md").read_text("utf-8")
    assert sha in card, "confidence.json changed without `make calibration` (card is stale)"
    th = cal.thresholds(0.003)
    assert all(0.0 <= t <= 1.0 for t in th.values())
    # A looser target never asks for a higher threshold.
    loose = cal.thresholds(0.05)
    assert all(loose[k] <= th[k] for k in th)


def test_the_shipped_text_model_rises_with_the_engines_confidence():
    cal = calibration.load()
    ev = Evidence(engine_min=0.5, engine_mean=0.8, chars=12, words=2, known=1.0)
    low = cal.probability("text", ev)
    high = cal.probability("text", replace(ev, engine_min=0.97, engine_mean=0.97))
    assert high > low


@pytest.mark.parametrize(
    "text, problem",
    [("{not json", "unreadable"), ('{"format": 99, "kinds": {}}', "format 99")],
)
def test_a_broken_calibration_file_is_a_clear_config_error(tmp_path, text, problem):
    path = tmp_path / "confidence.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(problem)) as err:
        calibration.load(path)
    assert str(path) in str(err.value)


def test_a_calibration_without_every_kind_is_refused(tmp_path):
    data = json.loads(resources.files("pipeline.models").joinpath("confidence.json").read_text())
    del data["kinds"]["email"]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="email"):
        calibration.load(path)


@pytest.fixture(scope="module")
def swedish() -> lexicon.Lexicon:
    return lexicon.load(Config().ocr.tessdata, "swe")


@pytest.mark.tesseract
def test_the_word_list_restores_a_lost_ring_or_dot(swedish):
    assert len(swedish) > 100_000
    assert swedish.check("Västeras").text == "Västerås"
    fixed = swedish.check("Resa till Jonkoping")
    assert fixed.text == "Resa till Jönköping" and fixed.restored and fixed.known == 1.0
    # Compounds of listed words are words, told apart from listed ones: kläm + skada.
    assert swedish.check("Klämskada").compound == 1.0
    # A reading that may have lost a dot: both Jonsson and Jönsson are names.
    assert swedish.check("Jonsson").doubtful == 1.0
    assert swedish.check("Jönköping").doubtful == 0.0
    # A name that is a word as it stands is kept: "Jonsson" is a surname too.
    assert swedish.check("Jonsson").text == "Jonsson"
    assert not swedish.check("Jonsson").restored
    # Nothing to look up: no evidence either way.
    assert swedish.check("12 34").words == 0
    # An unknown word with no known variant stays as read.
    odd = swedish.check("Xqzvbn")
    assert odd.text == "Xqzvbn" and odd.known == 0.0 and not odd.restored


class _TwoMinds:
    """An engine that reads one thing the first time and another the second."""

    name = "two-minds"

    def __init__(self, first: str, second: str):
        self.first, self.second, self.calls = first, second, 0

    def read(self, image: Gray, hints: OcrHints) -> OcrResult:
        self.calls += 1
        text = self.second if hints.second else self.first
        return OcrResult(text=text, confidence=0.9, mean_confidence=0.95)

    def close(self) -> None:
        pass


def _crop() -> Gray:
    img = np.full((80, 400), 250, np.uint8)
    cv2.putText(img, "123 45", (20, 55), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 20, 3)
    return img


def _trust(threshold: float, agreed: float = 1.0, twice: bool = False) -> Trust:
    return Trust(calibration.load(), dict.fromkeys(KINDS, threshold), {}, agreed, twice)


def _read(
    engine: _TwoMinds, threshold: float, agreed: float = 0.0, twice: bool = False
) -> FieldReading:
    cfg = Config()
    ctx = ExtractContext(engine, cfg.ocr, None, _trust(threshold, agreed, twice))
    hints = OcrHints(lang="eng", whitelist=None, single_line=True)
    return read_text_crop(_crop(), hints, ctx, 12)


def test_an_unsure_reading_is_read_again_and_disagreement_is_evidence():
    engine = _TwoMinds("123 45", "128 45")
    reading = _read(engine, threshold=1.0)  # nothing is sure: read twice
    assert engine.calls == 2 and reading.evidence is not None
    assert reading.evidence.agree is False and reading.text == "123 45"
    engine = _TwoMinds("123 45", "123 45")
    reading = _read(engine, threshold=1.0)
    assert reading.evidence is not None and reading.evidence.agree is True


def test_specks_the_second_reading_adds_at_the_ends_are_no_disagreement():
    # Raw-line reading makes a quote or a comma of a speck beside the value.
    assert _same("text", "Skolgränd 22 B", "'Skolgränd 22 B")
    assert _same("amount", "5748929", "5748929,")
    assert _same("number", "026115", "026115.")
    # The first reading's own speck, a full stop that may end a word, or another
    # character stay disagreements.
    assert not _same("text", "Skolgränd 22 B,", "Skolgränd 22 B")
    assert not _same("text", "Ringv AB", "Ringv AB.")
    assert not _same("text", "Skolgränd 22 B", "'Skolgränd 28 B")


def test_where_the_engines_differ_the_second_engines_reading_is_the_suggestion():
    first, line = _TwoMinds("123 45", "123 45"), _TwoMinds("128 45", "128 45")
    cfg = Config()
    ctx = ExtractContext(
        first, cfg.ocr, None, _trust(1.0, agreed=0.0), HandReaders(DigitReader.load(), line)
    )
    reading = read_text_crop(_crop(), OcrHints(lang="eng", single_line=True), ctx, 12)
    assert first.calls == 1 and line.calls == 1  # the second reading is the other engine
    assert reading.text == "128 45"
    assert reading.evidence is not None and reading.evidence.agree is False


def test_the_other_engines_reading_is_suggested_only_where_it_says_more():
    assert _better_suggestion("text", "Blund", "Ålund")
    # PP-OCR drops the ring of a capital Å: a difference in marks alone is no better.
    assert not _better_suggestion("text", "Ålund", "Alund")
    assert not _better_suggestion("number", "123", "")  # nothing read
    assert not _better_suggestion("number", "123", "12a")  # breaks the type


def test_a_sure_reading_is_read_once():
    engine = _TwoMinds("123 45", "999 99")
    reading = _read(engine, threshold=0.0)
    assert engine.calls == 1 and reading.evidence is not None
    assert reading.evidence.agree is None


def test_a_reading_no_agreement_could_lift_is_read_once():
    # Nothing is sure, and even two readings that agree need more than the calibration
    # ever gives: a second reading would change nothing.
    engine = _TwoMinds("123 45", "123 45")
    reading = _read(engine, threshold=1.0, agreed=1.0)
    assert engine.calls == 1 and reading.evidence is not None
    assert reading.evidence.agree is None
    # Fitting the calibration needs both readings of every field all the same.
    engine = _TwoMinds("123 45", "123 45")
    reading = _read(engine, threshold=1.0, agreed=1.0, twice=True)
    assert engine.calls == 2 and reading.evidence is not None
    assert reading.evidence.agree is True


def test_agreement_lowers_the_bar_only_where_the_page_lost_nothing():
    trust = _trust(0.99, agreed=0.9)
    ev = Evidence(engine_min=0.9, chars=5, agree=True)
    assert trust.threshold_for("text", ev) == 0.9
    # Both readings see the same cut descenders and the same strokes dropout took.
    assert trust.threshold_for("text", replace(ev, cut_off=True)) == 0.99
    assert trust.threshold_for("text", replace(ev, overlap=0.05)) == 0.99
    assert trust.threshold_for("text", replace(ev, agree=False)) == 0.99


def test_agreement_in_a_box_that_cut_descenders_is_no_evidence():
    cal = calibration.load()
    ev = Evidence(engine_min=0.95, engine_mean=0.97, chars=14, words=2, known=1.0)
    cut = replace(ev, cut_off=True)
    # Both readings see the same cut letters: the first reading's figure stands.
    assert cal.probability("text", replace(cut, agree=True)) == cal.probability("text", cut)
    assert cal.probability("text", replace(ev, agree=True)) != cal.probability("text", ev)


def test_readings_that_disagree_go_to_review_with_that_reason():
    spec = TemplateSpec.model_validate(
        {
            "id": "t",
            "pages": [{"number": 1, "image": "p.png", "width": 595, "height": 842}],
            "fields": [{"name": "n", "page": 1, "type": "number", "box": [40, 40, 200, 30]}],
        }
    )
    ev = Evidence(engine_min=0.99, engine_mean=0.99, chars=5, agree=False)
    r = FieldReading("n", 1, "12345", 0.1, True, 0.99, evidence=ev)
    fields, _, _ = validate(spec, [r], {1: 1.0}, AlignConfig(), _trust(0.5))
    assert fields[0].needs_review and "readings_disagree" in fields[0].issues
