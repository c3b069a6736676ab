"""Validators and normalizers named by templates: pure functions, no I/O.

``check_type`` turns what was read into a normalized value plus issue codes for the
field's type (personnummer, postnummer, ...); ``check_rule`` applies one template rule;
``check_group`` a rule over several fields. A failed check is an issue code, never an
exception: the record goes to review with the reason attached. The codes and the words an
operator sees for each (``ISSUE_TEXT``) are in ``pipeline.issues``; which normalizer a
field type gets is in ``pipeline.fieldtypes``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pipeline.fieldtypes import FIELD_TYPES
from pipeline.issues import ISSUE_TEXT as ISSUE_TEXT  # docs/cli.md and the web UI look here
from pipeline.issues import IssueCode


@dataclass(frozen=True)
class Checked:
    value: str | bool | None
    issues: tuple[IssueCode, ...] = ()


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


# Printed 1 and 0 in geometric fonts come back as I, l, | or O: inside a run of digits
# ("Storgatan I2", "2O26") they are digits. A run with no real digit ("IO", "Ola") or one
# touching other letters ("12A", "Oskar5") is left as it is.
_LOOKALIKE = str.maketrans({"I": "1", "l": "1", "|": "1", "O": "0", "o": "0"})
_DIGIT_RUN = re.compile(r"(?<![^\W\d_])[\dIl|Oo]*\d[\dIl|Oo]*(?![^\W\d_])")


def _text(text: str) -> Checked:
    v = _DIGIT_RUN.sub(lambda m: m.group().translate(_LOOKALIKE), _squash(text))
    return Checked(v or None)


_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")


def _number(text: str) -> Checked:
    s = re.sub(r"[\s\u00a0']", "", text)
    if not s:
        return Checked(None)
    if not _NUMBER.match(s):
        return Checked(s, (IssueCode.NOT_A_NUMBER,))
    return Checked(s.replace(",", "."))


def _amount(text: str) -> Checked:
    s = re.sub(r"[\s\u00a0']", "", text)
    s = re.sub(r"(?i)(kr|sek|:-|,-)$", "", s)
    if not s:
        return Checked(None)
    # "1.234,50" and "1,234.50": the last separator is the decimal one.
    m = re.match(r"^([+-]?)(\d{1,3}(?:[.,]\d{3})+|\d+)(?:[.,](\d{1,2}))?$", s)
    if not m:
        return Checked(s, (IssueCode.NOT_A_NUMBER,))
    whole = re.sub(r"[.,]", "", m.group(2))
    try:
        value = Decimal(f"{m.group(1)}{whole}.{m.group(3) or '0'}")
    except InvalidOperation:
        return Checked(s, (IssueCode.NOT_A_NUMBER,))
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
    return Checked(d.isoformat()) if d else Checked(s, (IssueCode.DATE_INVALID,))


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
        return Checked(raw, (IssueCode.PERSONNUMMER_FORMAT,))
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
    issues: list[IssueCode] = []
    # The checksum leaves the century unchecked: a birth year must lie between 1870 and
    # today for a misread first digit ("70150312-1236") to be caught.
    born = dt.date(year, month, day) if _valid_ymd(year, month, day) else None
    if born is None or not dt.date(1870, 1, 1) <= born <= today:
        issues.append(IssueCode.PERSONNUMMER_DATE)
    if not luhn_ok(short):
        issues.append(IssueCode.PERSONNUMMER_CHECKSUM)
    return Checked(f"{year:04d}{short[2:6]}-{short[6:]}", tuple(issues))


def _organisationsnummer(text: str) -> Checked:
    raw = _squash(text)
    if not raw:
        return Checked(None)
    digits = _digits(raw)
    if len(digits) == 12 and digits.startswith("16"):
        digits = digits[2:]
    if len(digits) != 10:
        return Checked(raw, (IssueCode.ORGANISATIONSNUMMER_FORMAT,))
    issues = () if luhn_ok(digits) else (IssueCode.ORGANISATIONSNUMMER_CHECKSUM,)
    return Checked(f"{digits[:6]}-{digits[6:]}", issues)


def _postnummer(text: str) -> Checked:
    raw = _squash(text)
    if not raw:
        return Checked(None)
    digits = _digits(raw)
    if len(digits) != 5 or digits[0] == "0" or re.search(r"[^\d\s]", raw.replace("SE-", "")):
        return Checked(raw, (IssueCode.POSTNUMMER_INVALID,))
    return Checked(f"{digits[:3]} {digits[3:]}")


_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")


def _email(text: str) -> Checked:
    s = re.sub(r"\s", "", text)
    if not s:
        return Checked(None)
    if not _EMAIL.match(s):
        return Checked(s, (IssueCode.EMAIL_INVALID,))
    # Written in capitals on paper or not, an address is delivered the way mail uses it.
    return Checked(s.lower())


def _phone(text: str) -> Checked:
    raw = _squash(text)
    if not raw:
        return Checked(None)
    if re.search(r"[^\d\s+\-()/]", raw):
        return Checked(raw, (IssueCode.PHONE_INVALID,))
    digits = _digits(raw)
    plus = raw.lstrip().startswith("+")
    if not 7 <= len(digits) <= 15 or "+" in raw.lstrip()[1:]:
        return Checked(raw, (IssueCode.PHONE_INVALID,))
    return Checked(("+" if plus else "") + digits)


def _bankgiro(text: str) -> Checked:
    raw = _squash(text)
    if not raw:
        return Checked(None)
    digits = _digits(raw)
    if len(digits) not in (7, 8) or not luhn_ok(digits) or re.search(r"[^\d\s\-]", raw):
        return Checked(raw, (IssueCode.BANKGIRO_INVALID,))
    return Checked(f"{digits[:-4]}-{digits[-4:]}")


def _plusgiro(text: str) -> Checked:
    raw = _squash(text)
    if not raw:
        return Checked(None)
    digits = _digits(raw)
    if not 2 <= len(digits) <= 8 or not luhn_ok(digits) or re.search(r"[^\d\s\-]", raw):
        return Checked(raw, (IssueCode.PLUSGIRO_INVALID,))
    return Checked(f"{digits[:-1]}-{digits[-1]}")


# Keyed by the ``normalizer`` names in pipeline.fieldtypes, which says which type uses which.
NORMALIZERS: Mapping[str, Callable[[str], Checked]] = {
    "text": _text,
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
_unknown = {t.normalizer for t in FIELD_TYPES.values() if t.normalizer} - set(NORMALIZERS)
if _unknown:
    raise AssertionError(f"pipeline.fieldtypes names unknown normalizers: {sorted(_unknown)}")


def check_type(field_type: str, text: str) -> Checked:
    """Normalize ``text`` for ``field_type``; marks (checkbox, choice, signature) pass through."""
    info = FIELD_TYPES.get(field_type)
    if info is None or info.normalizer is None:
        return Checked(text or None)
    return NORMALIZERS[info.normalizer](text)


def is_empty(value: str | bool | None) -> bool:
    return value is None or value is False or value == ""


def check_rule(name: str, arg: Any, value: str | bool | None) -> IssueCode | None:
    """Apply one template rule; the issue code, or None when the value passes."""
    if name == "required":
        return IssueCode.REQUIRED_MISSING if is_empty(value) else None
    if is_empty(value) or isinstance(value, bool):
        return None  # only `required` speaks about empty values and marks
    s = str(value)
    if name == "regex":
        return None if re.fullmatch(arg, s) else IssueCode.REGEX_MISMATCH
    if name in ("min", "max"):
        try:
            n = Decimal(s)
        except InvalidOperation:
            return IssueCode.NOT_A_NUMBER
        if name == "min":
            return IssueCode.BELOW_MIN if n < Decimal(str(arg)) else None
        return IssueCode.ABOVE_MAX if n > Decimal(str(arg)) else None
    if name == "min_length":
        return IssueCode.TOO_SHORT if len(s) < arg else None
    if name == "max_length":
        return IssueCode.TOO_LONG if len(s) > arg else None
    if name == "not_in_future":
        d = parse_date(s)
        return IssueCode.DATE_IN_FUTURE if d and d > dt.date.today() else None
    if name == "in":
        return None if s in {str(a) for a in arg} else IssueCode.VALUE_NOT_ALLOWED
    raise ValueError(f"unknown rule {name!r}")  # the schema refuses unknown names first


def check_group(
    kind: str, values: Sequence[str | bool | None]
) -> tuple[IssueCode, Sequence[bool]] | None:
    """A rule over several fields: (issue code, which fields get it) or None when it holds."""
    marked = [not is_empty(v) for v in values]
    n = sum(marked)
    if kind in ("exactly_one", "at_least_one") and n == 0:
        return IssueCode.GROUP_NONE_MARKED, [True] * len(values)
    if kind in ("exactly_one", "at_most_one") and n > 1:
        return IssueCode.GROUP_SEVERAL_MARKED, marked
    if kind == "all_required" and n < len(values):
        return IssueCode.REQUIRED_MISSING, [not m for m in marked]
    return None
