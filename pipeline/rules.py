"""Validators and normalizers named by templates: pure functions, no I/O.

``check_type`` turns what was read into a normalized value plus issue codes for the
field's type (personnummer, postnummer, ...); ``check_rule`` applies one template rule;
``check_group`` a rule over several fields. A failed check is an issue code, never an
exception: the record goes to review with the reason attached. ``ISSUE_TEXT`` holds the
words an operator sees for each code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

ISSUE_TEXT: Mapping[str, str] = {
    "required_missing": "a required field is empty",
    "not_a_number": "not a number",
    "date_invalid": "not a valid date",
    "date_in_future": "the date is in the future",
    "personnummer_format": "a personnummer has 10 or 12 digits",
    "personnummer_date": "the personnummer does not start with a valid birth date",
    "personnummer_checksum": "personnummer check digit is wrong",
    "organisationsnummer_format": "an organisationsnummer has 10 digits",
    "organisationsnummer_checksum": "organisationsnummer check digit is wrong",
    "postnummer_invalid": "a postnummer has 5 digits (NNN NN)",
    "email_invalid": "not a valid e-mail address",
    "phone_invalid": "not a valid phone number",
    "bankgiro_invalid": "bankgiro number is malformed or its check digit is wrong",
    "plusgiro_invalid": "plusgiro number is malformed or its check digit is wrong",
    "regex_mismatch": "does not match the expected pattern",
    "below_min": "below the allowed minimum",
    "above_max": "above the allowed maximum",
    "too_short": "too short",
    "too_long": "too long",
    "value_not_allowed": "not one of the allowed values",
    "group_none_marked": "none of the boxes in the group is marked",
    "group_several_marked": "more than one box in the group is marked",
    "low_confidence": "the machine is unsure of this reading",
    "ink_not_read": "no text read but ink present",
    "ambiguous_mark": "the box is neither clearly marked nor clearly empty",
    "several_options_marked": "more than one option is marked",
    "poor_alignment": "the page could not be aligned well to its template",
    "missing_pages": "pages of this form are missing",
    "version_uncertain": "two versions of this form look alike; check the version",
    "page_unidentified": "the page does not match any template",
    "all_pages_blank": "every page is blank",
    "not_a_mark": "type x for a marked box, nothing for an empty one",
    "template_assigned": "an operator chose the form; check that every field sits right",
}


@dataclass(frozen=True)
class Checked:
    value: str | bool | None
    issues: tuple[str, ...] = ()


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) check over a digit string, check digit last."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_digit(body: str) -> str:
    """The check digit that makes ``body + digit`` pass Luhn."""
    for d in "0123456789":
        if luhn_ok(body + d):
            return d
    raise AssertionError("unreachable")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _squash(text: str) -> str:
    return " ".join(text.split())


def _text(text: str) -> Checked:
    v = _squash(text)
    return Checked(v or None)


_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")


def _number(text: str) -> Checked:
    s = re.sub(r"[\s\u00a0']", "", text)
    if not s:
        return Checked(None)
    if not _NUMBER.match(s):
        return Checked(s, ("not_a_number",))
    return Checked(s.replace(",", "."))


def _amount(text: str) -> Checked:
    s = re.sub(r"[\s\u00a0']", "", text)
    s = re.sub(r"(?i)(kr|sek|:-|,-)$", "", s)
    if not s:
        return Checked(None)
    # "1.234,50" and "1,234.50": the last separator is the decimal one.
    m = re.match(r"^([+-]?)(\d{1,3}(?:[.,]\d{3})+|\d+)(?:[.,](\d{1,2}))?$", s)
    if not m:
        return Checked(s, ("not_a_number",))
    whole = re.sub(r"[.,]", "", m.group(2))
    try:
        value = Decimal(f"{m.group(1)}{whole}.{m.group(3) or '0'}")
    except InvalidOperation:
        return Checked(s, ("not_a_number",))
    return Checked(str(value.quantize(Decimal("0.01"))))


_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%d.%m.%Y", "%d/%m/%Y", "%Y/%m/%d", "%Y.%m.%d")


def parse_date(text: str) -> dt.date | None:
    s = re.sub(r"\s", "", text)
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    return None


def _date(text: str) -> Checked:
    s = re.sub(r"\s", "", text)
    if not s:
        return Checked(None)
    d = parse_date(s)
    return Checked(d.isoformat()) if d else Checked(s, ("date_invalid",))


def _valid_ymd(y: int, m: int, d: int) -> bool:
    try:
        dt.date(y, m, d)
    except ValueError:
        return False
    return True


def _personnummer(text: str, today: dt.date | None = None) -> Checked:
    raw = _squash(text)
    if not raw:
        return Checked(None)
    digits = _digits(raw)
    if len(digits) not in (10, 12):
        return Checked(raw, ("personnummer_format",))
    today = today or dt.date.today()
    if len(digits) == 12:
        century, short = int(digits[:2]), digits[2:]
        year = century * 100 + int(short[:2])
    else:
        short = digits
        yy = int(short[:2])
        year = (today.year // 100) * 100 + yy
        if year > today.year:
            year -= 100
        if "+" in raw:  # a '+' separator: 100 years or older
            year -= 100
    month, day = int(short[2:4]), int(short[4:6])
    if day > 60:  # samordningsnummer: day of birth + 60
        day -= 60
    issues: list[str] = []
    if not _valid_ymd(year, month, day):
        issues.append("personnummer_date")
    if not luhn_ok(short):
        issues.append("personnummer_checksum")
    return Checked(f"{year:04d}{short[2:6]}-{short[6:]}", tuple(issues))


def _organisationsnummer(text: str) -> Checked:
    raw = _squash(text)
    if not raw:
        return Checked(None)
    digits = _digits(raw)
    if len(digits) == 12 and digits.startswith("16"):
        digits = digits[2:]
    if len(digits) != 10:
        return Checked(raw, ("organisationsnummer_format",))
    issues = () if luhn_ok(digits) else ("organisationsnummer_checksum",)
    return Checked(f"{digits[:6]}-{digits[6:]}", issues)


def _postnummer(text: str) -> Checked:
    raw = _squash(text)
    if not raw:
        return Checked(None)
    digits = _digits(raw)
    if len(digits) != 5 or digits[0] == "0" or re.search(r"[^\d\s]", raw.replace("SE-", "")):
        return Checked(raw, ("postnummer_invalid",))
    return Checked(f"{digits[:3]} {digits[3:]}")


_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")


def _email(text: str) -> Checked:
    s = re.sub(r"\s", "", text)
    if not s:
        return Checked(None)
    if not _EMAIL.match(s):
        return Checked(s, ("email_invalid",))
    local, domain = s.rsplit("@", 1)
    return Checked(f"{local}@{domain.lower()}")


def _phone(text: str) -> Checked:
    raw = _squash(text)
    if not raw:
        return Checked(None)
    if re.search(r"[^\d\s+\-()/]", raw):
        return Checked(raw, ("phone_invalid",))
    digits = _digits(raw)
    plus = raw.lstrip().startswith("+")
    if not 7 <= len(digits) <= 15 or "+" in raw.lstrip()[1:]:
        return Checked(raw, ("phone_invalid",))
    return Checked(("+" if plus else "") + digits)


def _bankgiro(text: str) -> Checked:
    raw = _squash(text)
    if not raw:
        return Checked(None)
    digits = _digits(raw)
    if len(digits) not in (7, 8) or not luhn_ok(digits) or re.search(r"[^\d\s\-]", raw):
        return Checked(raw, ("bankgiro_invalid",))
    return Checked(f"{digits[:-4]}-{digits[-4:]}")


def _plusgiro(text: str) -> Checked:
    raw = _squash(text)
    if not raw:
        return Checked(None)
    digits = _digits(raw)
    if not 2 <= len(digits) <= 8 or not luhn_ok(digits) or re.search(r"[^\d\s\-]", raw):
        return Checked(raw, ("plusgiro_invalid",))
    return Checked(f"{digits[:-1]}-{digits[-1]}")


TYPE_CHECKS: Mapping[str, Callable[[str], Checked]] = {
    "text": _text,
    "barcode": _text,
    "number": _number,
    "amount": _amount,
    "date": _date,
    "personnummer": _personnummer,
    "organisationsnummer": _organisationsnummer,
    "postnummer": _postnummer,
    "email": _email,
    "phone": _phone,
    "bankgiro": _bankgiro,
    "plusgiro": _plusgiro,
}


def check_type(field_type: str, text: str) -> Checked:
    """Normalize ``text`` for ``field_type``; marks (checkbox, choice, signature) pass through."""
    fn = TYPE_CHECKS.get(field_type)
    return fn(text) if fn else Checked(text or None)


def is_empty(value: str | bool | None) -> bool:
    return value is None or value is False or value == ""


def check_rule(name: str, arg: Any, value: str | bool | None) -> str | None:
    """Apply one template rule; the issue code, or None when the value passes."""
    if name == "required":
        return "required_missing" if is_empty(value) else None
    if is_empty(value) or isinstance(value, bool):
        return None  # only `required` speaks about empty values and marks
    s = str(value)
    if name == "regex":
        return None if re.fullmatch(arg, s) else "regex_mismatch"
    if name in ("min", "max"):
        try:
            n = Decimal(s)
        except InvalidOperation:
            return "not_a_number"
        if name == "min":
            return "below_min" if n < Decimal(str(arg)) else None
        return "above_max" if n > Decimal(str(arg)) else None
    if name == "min_length":
        return "too_short" if len(s) < arg else None
    if name == "max_length":
        return "too_long" if len(s) > arg else None
    if name == "not_in_future":
        d = parse_date(s)
        return "date_in_future" if d and d > dt.date.today() else None
    if name == "in":
        return None if s in {str(a) for a in arg} else "value_not_allowed"
    raise ValueError(f"unknown rule {name!r}")  # the schema refuses unknown names first


def check_group(
    kind: str, values: Sequence[str | bool | None]
) -> tuple[str, Sequence[bool]] | None:
    """A rule over several fields: (issue code, which fields get it) or None when it holds."""
    marked = [not is_empty(v) for v in values]
    n = sum(marked)
    if kind in ("exactly_one", "at_least_one") and n == 0:
        return "group_none_marked", [True] * len(values)
    if kind in ("exactly_one", "at_most_one") and n > 1:
        return "group_several_marked", marked
    if kind == "all_required" and n < len(values):
        return "required_missing", [not m for m in marked]
    return None
