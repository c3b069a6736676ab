"""Validators and normalizers, with property tests for the check-digit numbers."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline import errors, rules
from pipeline.errors import BlankettError, Reason
from pipeline.fieldtypes import FIELD_TYPES
from pipeline.issues import ISSUE_TEXT, IssueCode
from pipeline.rules import check_group, check_rule, check_type, luhn_digit, luhn_ok

dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31))


def make_pnr(d: dt.date, serial: int, coordination: bool = False) -> str:
    day = d.day + (60 if coordination else 0)
    body = f"{d:%y%m}{day:02d}{serial:03d}"
    return f"{d.year}{body[2:6]}-{body[6:]}{luhn_digit(body)}"


@given(dates, st.integers(0, 999), st.booleans())
def test_valid_personnummer_and_samordningsnummer_pass(d: dt.date, serial: int, coord: bool):
    pnr = make_pnr(d, serial, coord)
    got = check_type("personnummer", pnr)
    assert got.issues == ()
    assert got.value == pnr


@given(dates, st.integers(0, 999), st.integers(0, 12), st.integers(1, 9))
def test_any_single_digit_error_is_caught(d: dt.date, serial: int, pos: int, delta: int):
    digits = make_pnr(d, serial).replace("-", "")
    pos = 2 + pos % 10  # the 10 digits the check digit covers
    wrong = digits[:pos] + str((int(digits[pos]) + delta) % 10) + digits[pos + 1 :]
    issues = check_type("personnummer", wrong).issues
    assert issues, f"{wrong} passed"


def test_personnummer_forms_and_century():
    today = dt.date(2026, 11, 21)
    assert rules._personnummer("811228-9874", today).value == "19811228-9874"
    assert rules._personnummer("121212+1212", today).value == "19121212-1212"
    assert rules._personnummer("121212-1212", today).value == "20121212-1212"
    assert rules._personnummer("198112289874", today).value == "19811228-9874"
    assert rules._personnummer("19811228-9875", today).issues == ("personnummer_checksum",)
    assert "personnummer_date" in rules._personnummer("19811328-9871", today).issues
    # The checksum leaves the century to the date: a misread first digit, or a birth
    # still to come, is caught there.
    assert rules._personnummer("70150312-1236", today).issues == ("personnummer_date",)
    assert rules._personnummer("20150312-1236", today).issues == ()
    assert rules._personnummer("20270312-1234", today).issues[0] == "personnummer_date"
    assert rules._personnummer("1981122", today).issues == ("personnummer_format",)
    assert rules._personnummer("", today).value is None


@given(st.text(alphabet="0123456789", min_size=1, max_size=15))
def test_luhn_digit_completes_any_body(body: str):
    assert luhn_ok(body + luhn_digit(body))


@pytest.mark.parametrize(
    ("ftype", "text", "value", "issues"),
    [
        ("postnummer", "123 45", "123 45", ()),
        ("postnummer", "12345", "123 45", ()),
        ("postnummer", "SE-123 45", "123 45", ()),
        ("postnummer", "023 45", "023 45", ("postnummer_invalid",)),
        ("postnummer", "1234", "1234", ("postnummer_invalid",)),
        ("organisationsnummer", "556036-0793", "556036-0793", ()),
        ("organisationsnummer", "165560360793", "556036-0793", ()),
        ("organisationsnummer", "556036-0794", "556036-0794", ("organisationsnummer_checksum",)),
        ("bankgiro", "5050-1055", "5050-1055", ()),
        ("bankgiro", "5050-1056", "5050-1056", ("bankgiro_invalid",)),
        ("plusgiro", "4 10 54-8", "41054-8", ()),
        ("plusgiro", "410547", "410547", ("plusgiro_invalid",)),
        ("email", "Anna.Öberg@Exempel.SE", "Anna.Öberg@Exempel.SE", ("email_invalid",)),
        ("email", "anna.oberg@Exempel.SE", "anna.oberg@exempel.se", ()),
        ("email", "anna.oberg exempel.se", "anna.obergexempel.se", ("email_invalid",)),
        ("phone", "070-123 45 67", "0701234567", ()),
        ("phone", "+46 70 123 45 67", "+46701234567", ()),
        ("phone", "070-12A 45 67", "070-12A 45 67", ("phone_invalid",)),
        ("phone", "12 34", "12 34", ("phone_invalid",)),
        ("date", "2026-03-14", "2026-03-14", ()),
        ("date", "20260314", "2026-03-14", ()),
        ("date", "14.03.2026", "2026-03-14", ()),
        ("date", "2026-02-30", "2026-02-30", ("date_invalid",)),
        ("amount", "12 500", "12500.00", ()),
        ("amount", "3 450,50", "3450.50", ()),
        ("amount", "1.234,5", "1234.50", ()),
        ("amount", "250 kr", "250.00", ()),
        ("amount", "12,5,0", "12,5,0", ("not_a_number",)),
        ("number", "1 024", "1024", ()),
        ("number", "3,25", "3.25", ()),
        ("number", "12a", "12a", ("not_a_number",)),
        ("text", "  Storgatan   12 ", "Storgatan 12", ()),
        ("text", "   ", None, ()),
    ],
)
def test_type_checks(ftype: str, text: str, value: object, issues: tuple[str, ...]):
    got = check_type(ftype, text)
    assert (got.value, got.issues) == (value, issues)


def test_rules_speak_only_about_their_subject():
    assert check_rule("required", None, None) == "required_missing"
    assert check_rule("required", None, False) == "required_missing"
    assert check_rule("required", None, "x") is None
    assert check_rule("regex", r"\d{3}", "12a") == "regex_mismatch"
    assert check_rule("regex", r"\d{3}", None) is None  # empty: only `required` speaks
    assert check_rule("min", 10, "9.5") == "below_min"
    assert check_rule("max", 10, "10.00") is None
    assert check_rule("max_length", 3, "abcd") == "too_long"
    assert check_rule("min_length", 3, "ab") == "too_short"
    assert check_rule("in", ["A", "B"], "C") == "value_not_allowed"
    assert check_rule("not_in_future", None, "2999-01-01") == "date_in_future"
    assert check_rule("not_in_future", None, "2000-01-01") is None


def test_groups():
    assert check_group("exactly_one", [True, False]) is None
    assert check_group("exactly_one", [False, False]) == ("group_none_marked", [True, True])
    assert check_group("exactly_one", [True, True, False]) == (
        "group_several_marked",
        [True, True, False],
    )
    assert check_group("at_most_one", [False, False]) is None
    assert check_group("at_least_one", [False, "x"]) is None
    assert check_group("all_required", ["a", None]) == ("required_missing", [False, True])


def test_every_issue_code_has_words():
    assert set(ISSUE_TEXT) == set(IssueCode)
    assert rules.ISSUE_TEXT is ISSUE_TEXT
    # A code read back from storage is a plain string: it looks up all the same.
    assert ISSUE_TEXT["low_confidence"] == ISSUE_TEXT[IssueCode.LOW_CONFIDENCE]


def test_stored_codes_keep_their_strings():
    """Databases and delivered JSON hold these strings: renaming one breaks them."""
    assert {c.value for c in IssueCode} == {
        *("required_missing not_a_number date_invalid date_in_future personnummer_format".split()),
        *("personnummer_date personnummer_checksum organisationsnummer_format".split()),
        *("organisationsnummer_checksum postnummer_invalid email_invalid phone_invalid".split()),
        *("bankgiro_invalid plusgiro_invalid regex_mismatch below_min above_max".split()),
        *("too_short too_long value_not_allowed group_none_marked group_several_marked".split()),
        *("low_confidence ink_not_read ambiguous_mark several_options_marked".split()),
        "readings_disagree",
        "descenders_cut",
        *("poor_alignment missing_pages version_uncertain page_unidentified".split()),
        *("page_lookalike page_shared".split()),
        *("all_pages_blank not_a_mark template_assigned".split()),
    }
    assert {r.value for r in Reason} == {
        *("error internal_error config_invalid template_invalid input_invalid".split()),
        *("file_not_found empty_file unsupported_format truncated_file corrupt_file".split()),
        *("encrypted_pdf too_large ocr_engine_failed worker_crashed store_failed".split()),
        *("invalid_transition delivery_failed target_unknown target_unavailable".split()),
        *("target_rejected sign_in_throttled".split()),
    }
    raised = [
        k for k in vars(errors).values() if isinstance(k, type) and issubclass(k, BlankettError)
    ]
    assert len(raised) > 10 and all(isinstance(k.code, Reason) for k in raised)


def test_every_type_but_marks_is_normalized():
    for name, kind in FIELD_TYPES.items():
        assert (kind.normalizer is None) == kind.is_mark, name
    assert check_type("barcode", " ab  c ").value == "ab c"  # the text normalizer
    assert check_type("checkbox", "X").value == "X"  # marks pass through


@pytest.mark.parametrize(
    ("read", "value"),
    [
        ("Storgatan I2", "Storgatan 12"),  # 1 in a geometric font read as I
        ("2O26-01-05 kl l5", "2026-01-05 kl 15"),
        ("Box l|O4", "Box 1104"),
        ("Ola Olsson", "Ola Olsson"),  # no digit: words stay words
        ("Karl XII, IO", "Karl XII, IO"),
        ("Storgatan 12A", "Storgatan 12A"),  # a letter that belongs to the number
        ("Oskar5 rum O3b", "Oskar5 rum O3b"),  # runs touching other letters are left alone
    ],
)
def test_look_alike_letters_inside_numbers_are_digits(read: str, value: str):
    assert check_type("text", read).value == value


def test_an_email_address_is_delivered_in_lowercase():
    assert check_type("email", "Anna.Berg@Example.SE").value == "anna.berg@example.se"
