"""validate: readings to a record: normalized values, rule outcomes, confidence, routing.

Each field's confidence is the calibrated probability that its value is right
(``pipeline.calibration``: from the evidence extraction gathered, alignment included),
capped when the value fails its type or a rule. A field under its kind's threshold, or
with any issue, needs review; so does the record that holds it. A page aligned so badly
that nothing on it can be trusted flags the whole record; a merely imperfect one is
judged field by field, where it harms a reading.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.calibration import BLANK, KIND_OF, Trust
from pipeline.config import AlignConfig
from pipeline.fieldtypes import FIELD_TYPES
from pipeline.issues import IssueCode
from pipeline.records import Evidence, FieldReading, FieldResult, RecordStatus
from pipeline.rules import check_group, check_rule, check_type, is_empty
from pipeline.stages import read_hand
from pipeline.templates.schema import FieldSpec, TemplateSpec

FAILED_CHECK_CAP = 0.3  # a value that breaks its rules is probably misread
# Issues about the reading, not a check the value failed: the calibrated probability
# already weighs them (a disagreement is evidence), so they do not cap it.
_NOT_CHECKS = frozenset({IssueCode.READINGS_DISAGREE, IssueCode.AMBIGUOUS_MARK})
# A mark this close to the decision band (0: in its middle, 1: at its edge) is a
# person's call, whatever the calibration makes of marks in general.
AMBIGUOUS_MARGIN = 0.6
SURE = 0.5  # readings with no calibrated kind (barcodes): decoded is 1.0, not found 0.0
# A word read in a box that cut off its descenders, which the word list cannot vouch
# for: 23 of 39 such values were right in the benchmark (docs/benchmarks.md, issue 11).
CLIPPED_CAP = 0.6


def _value(spec: FieldSpec, reading: FieldReading) -> tuple[str | bool | None, list[str]]:
    kind = FIELD_TYPES[spec.type]
    if kind.is_bool:
        return reading.inked, []
    if kind.reader == "choice":
        if "," in reading.text:
            return None, [IssueCode.SEVERAL_OPTIONS_MARKED]
        return reading.text or None, []
    checked = check_type(spec.type, reading.text)
    return checked.value, list(checked.issues)


def validate(
    spec: TemplateSpec,
    readings: Sequence[FieldReading],
    page_quality: Mapping[int, float],
    align: AlignConfig,
    trust: Trust,
) -> tuple[tuple[FieldResult, ...], tuple[str, ...], RecordStatus]:
    """(fields in template order, record-level issues, status)."""
    by_name = {r.name: r for r in readings}
    values: dict[str, str | bool | None] = {}
    issues: dict[str, list[str]] = {}
    for f in spec.fields:
        r = by_name.get(f.name)
        if r is None:  # its page is missing from this instance
            values[f.name], issues[f.name] = None, []
            continue
        values[f.name], issues[f.name] = _value(f, r)
        if r.inked and not r.text and not FIELD_TYPES[f.type].is_mark:
            issues[f.name].append(IssueCode.INK_NOT_READ)
        ev = r.evidence
        # A sure digit-model reading of a checked number written by hand stands against
        # a second reader that read otherwise (read_hand.accepted).
        if ev is not None and ev.agree is False and not _hand_accepted(f, ev):
            issues[f.name].append(IssueCode.READINGS_DISAGREE)
        if FIELD_TYPES[f.type].is_mark and ev is not None and ev.margin < AMBIGUOUS_MARGIN:
            issues[f.name].append(IssueCode.AMBIGUOUS_MARK)
        if ev is not None and ev.clipped > 0:
            issues[f.name].append(IssueCode.DESCENDERS_CUT)
        issues[f.name].extend(rule_issues(f, values[f.name]))
    for name, codes in group_issues(spec, values).items():
        issues[name].extend(c for c in codes if c not in issues[name])

    record_issues: list[str] = []
    if any(q < align.poor_quality for q in page_quality.values()):
        record_issues.append(IssueCode.POOR_ALIGNMENT)

    results = []
    for f in spec.fields:
        r = by_name.get(f.name)
        conf, threshold = _confidence(f, r, issues[f.name], trust)
        if conf < threshold and not issues[f.name]:
            issues[f.name].append(IssueCode.LOW_CONFIDENCE)
        results.append(
            FieldResult(
                name=f.name,
                value=values[f.name],
                text=r.text if r else "",
                confidence=conf,
                needs_review=conf < threshold or bool(issues[f.name]),
                issues=tuple(issues[f.name]),
                crop=r.crop if r else None,
                evidence=r.evidence if r else None,
            )
        )
    if any(f.needs_review for f in results) or record_issues:
        status = RecordStatus.NEEDS_REVIEW
    else:
        status = RecordStatus.ACCEPTED
    return tuple(results), tuple(record_issues), status


def _hand_accepted(spec: FieldSpec, ev: Evidence) -> bool:
    kind = KIND_OF.get(spec.type)
    return ev.hand and kind is not None and read_hand.accepted(kind, ev)


def rule_issues(spec: FieldSpec, value: str | bool | None) -> list[str]:
    """The codes of the field's own rules that ``value`` breaks."""
    return [c for r in spec.rules if (c := check_rule(r.name, r.arg, value))]


def group_issues(
    spec: TemplateSpec, values: Mapping[str, str | bool | None]
) -> dict[str, list[str]]:
    """Field name -> the group rules (exactly one of, ...) it takes part in breaking."""
    out: dict[str, list[str]] = {}
    for g in spec.groups:
        if g.when is not None and is_empty(values.get(g.when)):
            continue
        outcome = check_group(g.kind, [values.get(n) for n in g.fields])
        if outcome:
            code, hit = outcome
            for n, h in zip(g.fields, hit, strict=True):
                if h:
                    out.setdefault(n, []).append(code)
    return out


def _confidence(
    spec: FieldSpec, reading: FieldReading | None, issues: Sequence[str], trust: Trust
) -> tuple[float, float]:
    """(the probability that the value is right, the threshold it must reach)."""
    if reading is None:
        return 0.0, 1.0
    kind = KIND_OF.get(spec.type)
    if kind is not None and kind != "mark" and not reading.inked:
        kind = BLANK
    if kind is None:
        conf, threshold = reading.confidence, SURE
    elif reading.evidence is None:  # a reader that gathers none: its own figure
        conf, threshold = reading.confidence, trust.thresholds[kind]
    elif reading.evidence.hand:
        # The digit model's product of cell probabilities; the rule, not a threshold on
        # it, decides (the calibration was fit on print).
        conf = reading.confidence
        threshold = 0.0 if _hand_accepted(spec, reading.evidence) else 1.0
    else:
        conf = trust.calibration.probability(kind, reading.evidence)
        threshold = trust.threshold_for(kind, reading.evidence)
        if reading.evidence.doubtful > 0:
            # A word whose dotted variant is a word too (Asa / Åsa, Jonsson / Jönsson):
            # the value hangs on a dot or ring a fax often loses, so a person decides.
            threshold = 1.0
    if IssueCode.DESCENDERS_CUT in issues:
        conf = min(conf, CLIPPED_CAP)
    if set(issues) - _NOT_CHECKS - {IssueCode.DESCENDERS_CUT}:
        conf = min(conf, FAILED_CHECK_CAP)
    return max(0.0, min(1.0, conf)), threshold
