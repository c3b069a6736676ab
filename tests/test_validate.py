"""validate: routing rules over hand-made readings (no images involved)."""

from __future__ import annotations

from pipeline import calibration
from pipeline.calibration import KINDS, Trust
from pipeline.config import AlignConfig
from pipeline.records import FieldReading, RecordStatus
from pipeline.stages.validate import validate
from pipeline.templates.schema import TemplateSpec

SPEC = TemplateSpec.model_validate(
    {
        "id": "demo",
        "pages": [{"number": 1, "image": "p.png", "width": 595, "height": 842}],
        "fields": [
            {"name": "namn", "page": 1, "box": [40, 40, 200, 30], "rules": ["required"]},
            {"name": "pnr", "page": 1, "type": "personnummer", "box": [40, 80, 200, 30]},
            {"name": "a", "page": 1, "type": "checkbox", "box": [40, 120, 10, 10]},
            {"name": "b", "page": 1, "type": "checkbox", "box": [60, 120, 10, 10]},
            {"name": "annat", "page": 1, "type": "checkbox", "box": [80, 120, 10, 10]},
            {"name": "annat_text", "page": 1, "box": [100, 120, 200, 30]},
            {
                "name": "svar",
                "page": 1,
                "type": "choice",
                "options": [
                    {"value": "brev", "box": [40, 200, 10, 10]},
                    {"value": "epost", "box": [60, 200, 10, 10]},
                ],
            },
        ],
        "groups": [
            {"name": "ab", "kind": "exactly_one", "fields": ["a", "b"]},
            {
                "name": "annat_beskrivs",
                "kind": "all_required",
                "fields": ["annat_text"],
                "when": "annat",
            },
        ],
    }
)
ALIGN = AlignConfig()
# Hand-made readings carry no evidence: their own confidence meets a fixed threshold.
TRUST = Trust(calibration.load(), dict.fromkeys(KINDS, 0.8), {})


def reading(name: str, text: str = "", conf: float = 0.99, inked: bool | None = None):
    return FieldReading(name, 1, text, 0.0, bool(text) if inked is None else inked, conf)


def good() -> dict[str, FieldReading]:
    return {
        "namn": reading("namn", "Åsa Öberg"),
        "pnr": reading("pnr", "19811228-9874"),
        "a": reading("a", "X"),
        "b": reading("b"),
        "annat": reading("annat"),
        "annat_text": reading("annat_text"),
        "svar": reading("svar", "epost"),
    }


def run(readings: dict[str, FieldReading], quality: float = 1.0):
    fields, issues, status = validate(SPEC, list(readings.values()), {1: quality}, ALIGN, TRUST)
    return {f.name: f for f in fields}, issues, status


def test_clean_record_is_accepted_with_normalized_values():
    fields, issues, status = run(good())
    assert status is RecordStatus.ACCEPTED and issues == ()
    assert fields["a"].value is True and fields["b"].value is False
    assert fields["svar"].value == "epost"
    assert not any(f.needs_review for f in fields.values())


def test_low_confidence_alone_routes_to_review():
    r = good()
    r["namn"] = reading("namn", "Åsa Öberg", conf=0.6)
    fields, _, status = run(r)
    assert status is RecordStatus.NEEDS_REVIEW
    assert fields["namn"].issues == ("low_confidence",) and fields["namn"].needs_review
    assert not fields["pnr"].needs_review


def test_failed_checks_cap_confidence_and_name_the_reason():
    r = good()
    r["pnr"] = reading("pnr", "19811228-9875")
    r["b"] = reading("b", "X")
    fields, _, status = run(r)
    assert status is RecordStatus.NEEDS_REVIEW
    assert fields["pnr"].issues == ("personnummer_checksum",)
    assert fields["pnr"].confidence <= 0.3
    assert fields["a"].issues == fields["b"].issues == ("group_several_marked",)


def test_ink_without_text_and_conditional_group():
    r = good()
    r["namn"] = reading("namn", "", conf=0.0, inked=True)
    r["annat"] = reading("annat", "X")
    fields, _, _ = run(r)
    assert fields["namn"].issues == ("ink_not_read", "required_missing")
    assert fields["annat_text"].issues == ("required_missing",)


def test_several_options_marked_in_a_choice():
    r = good()
    r["svar"] = reading("svar", "brev,epost")
    fields, _, _ = run(r)
    assert fields["svar"].value is None and fields["svar"].issues == ("several_options_marked",)


def test_only_a_useless_alignment_flags_the_whole_record():
    # Under align.poor_quality (0.6) nothing on the page is trusted.
    _, issues, status = run(good(), quality=0.5)
    assert issues == ("poor_alignment",) and status is RecordStatus.NEEDS_REVIEW
    # An imperfect one is judged field by field (the calibration weighs the alignment):
    # these readings are sure, so the record goes through.
    _fields, issues, status = run(good(), quality=0.75)
    assert issues == () and status is RecordStatus.ACCEPTED


def test_missing_page_fields_are_not_trusted():
    r = good()
    del r["namn"]
    fields, _, status = run(r)
    assert fields["namn"].confidence == 0.0 and fields["namn"].needs_review
    assert status is RecordStatus.NEEDS_REVIEW
