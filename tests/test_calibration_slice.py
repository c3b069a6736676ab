"""The shipped calibration on a fixed slice it was not fit on (another seed of the same
generator): its probabilities must mean what they say, and what it lets through must be
right. CI checks this without refitting; ``make calibration`` refits."""

from __future__ import annotations

import pytest

from pipeline.compose import open_context
from pipeline.evaluate import expected_for
from pipeline.run import process_file
from pipeline.samplegen import varied
from tests.conftest import make_config

pytestmark = [pytest.mark.slow, pytest.mark.tesseract]

SEED = 99  # the fit uses seed 11


@pytest.fixture(scope="module")
def slice_fields(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[float, bool, bool]]:
    """(confidence, right, accepted) for every field of the slice."""
    root = tmp_path_factory.mktemp("slice")
    written = list(varied.generate(root / "corpus", 4, 1, ("office", "fax"), SEED))
    cfg = make_config(root / "data", templates_dir=root / "corpus" / "templates")
    out = []
    with open_context(cfg) as ctx:
        for w in written:
            truth = (expected_for(w.path) or [])[0]
            for rec in process_file(w.path, ctx):
                assert rec.template_id == truth["template"], w.path
                for f in rec.fields:
                    want = truth["fields"].get(f.name)
                    right = (want or None) == (f.value or None)
                    out.append((f.confidence, right, not f.needs_review))
    return out


def test_confidence_means_the_share_right(slice_fields):
    n = len(slice_fields)
    assert n > 150
    mean_conf = sum(c for c, _, _ in slice_fields) / n
    share_right = sum(r for _, r, _ in slice_fields) / n
    assert abs(mean_conf - share_right) <= 0.04, (mean_conf, share_right)


def test_what_goes_through_is_right(slice_fields):
    accepted = [r for _, r, a in slice_fields if a]
    wrong = len(accepted) - sum(accepted)
    # A handful of fields: the target (0.3 %) allows none here; one is the noise margin.
    assert wrong <= 1, f"{wrong} wrong values of {len(accepted)} went through"
    # And the calibration does not buy that by flagging everything.
    assert len(accepted) >= 0.6 * len(slice_fields)
