"""Issue codes: why a field or a record needs a person, and the words that person sees.

A code is stored in databases and delivered in JSON, so the string values never change;
``IssueCode`` is a ``StrEnum``, so a member equals its string and codes read back from
storage compare and look up as they are. docs/cli.md lists the codes for integrators.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class IssueCode(StrEnum):
    # A field's type (normalizers in pipeline.rules)
    NOT_A_NUMBER = "not_a_number"
    DATE_INVALID = "date_invalid"
    PERSONNUMMER_FORMAT = "personnummer_format"
    PERSONNUMMER_DATE = "personnummer_date"
    PERSONNUMMER_CHECKSUM = "personnummer_checksum"
    ORGANISATIONSNUMMER_FORMAT = "organisationsnummer_format"
    ORGANISATIONSNUMMER_CHECKSUM = "organisationsnummer_checksum"
    POSTNUMMER_INVALID = "postnummer_invalid"
    EMAIL_INVALID = "email_invalid"
    PHONE_INVALID = "phone_invalid"
    BANKGIRO_INVALID = "bankgiro_invalid"
    PLUSGIRO_INVALID = "plusgiro_invalid"
    # A field's rules and groups
    REQUIRED_MISSING = "required_missing"
    DATE_IN_FUTURE = "date_in_future"
    REGEX_MISMATCH = "regex_mismatch"
    BELOW_MIN = "below_min"
    ABOVE_MAX = "above_max"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    VALUE_NOT_ALLOWED = "value_not_allowed"
    GROUP_NONE_MARKED = "group_none_marked"
    GROUP_SEVERAL_MARKED = "group_several_marked"
    # The reading
    LOW_CONFIDENCE = "low_confidence"
    INK_NOT_READ = "ink_not_read"
    READINGS_DISAGREE = "readings_disagree"
    AMBIGUOUS_MARK = "ambiguous_mark"
    DESCENDERS_CUT = "descenders_cut"
    SEVERAL_OPTIONS_MARKED = "several_options_marked"
    # The record
    POOR_ALIGNMENT = "poor_alignment"
    MISSING_PAGES = "missing_pages"
    VERSION_UNCERTAIN = "version_uncertain"
    PAGE_UNIDENTIFIED = "page_unidentified"
    PAGE_LOOKALIKE = "page_lookalike"
    PAGE_SHARED = "page_shared"
    ALL_PAGES_BLANK = "all_pages_blank"
    TEMPLATE_ASSIGNED = "template_assigned"
    # An operator's edit
    NOT_A_MARK = "not_a_mark"


# Keyed by the members; typed by str so a code read back from storage looks up as it is.
ISSUE_TEXT: Mapping[str, str] = {
    IssueCode.REQUIRED_MISSING: "a required field is empty",
    IssueCode.NOT_A_NUMBER: "not a number",
    IssueCode.DATE_INVALID: "not a valid date",
    IssueCode.DATE_IN_FUTURE: "the date is in the future",
    IssueCode.PERSONNUMMER_FORMAT: "a personnummer has 10 or 12 digits",
    IssueCode.PERSONNUMMER_DATE: "the personnummer does not start with a valid birth date",
    IssueCode.PERSONNUMMER_CHECKSUM: "personnummer check digit is wrong",
    IssueCode.ORGANISATIONSNUMMER_FORMAT: "an organisationsnummer has 10 digits",
    IssueCode.ORGANISATIONSNUMMER_CHECKSUM: "organisationsnummer check digit is wrong",
    IssueCode.POSTNUMMER_INVALID: "a postnummer has 5 digits (NNN NN)",
    IssueCode.EMAIL_INVALID: "not a valid e-mail address",
    IssueCode.PHONE_INVALID: "not a valid phone number",
    IssueCode.BANKGIRO_INVALID: "bankgiro number is malformed or its check digit is wrong",
    IssueCode.PLUSGIRO_INVALID: "plusgiro number is malformed or its check digit is wrong",
    IssueCode.REGEX_MISMATCH: "does not match the expected pattern",
    IssueCode.BELOW_MIN: "below the allowed minimum",
    IssueCode.ABOVE_MAX: "above the allowed maximum",
    IssueCode.TOO_SHORT: "too short",
    IssueCode.TOO_LONG: "too long",
    IssueCode.VALUE_NOT_ALLOWED: "not one of the allowed values",
    IssueCode.GROUP_NONE_MARKED: "none of the boxes in the group is marked",
    IssueCode.GROUP_SEVERAL_MARKED: "more than one box in the group is marked",
    IssueCode.LOW_CONFIDENCE: "the machine is unsure of this reading",
    IssueCode.INK_NOT_READ: "no text read but ink present",
    IssueCode.READINGS_DISAGREE: "read twice, with different results",
    IssueCode.AMBIGUOUS_MARK: "the box is neither clearly marked nor clearly empty",
    IssueCode.DESCENDERS_CUT: (
        "the box cuts off the bottom of the letters: g, j, p, q, y may have been read as a, i, o, v"
    ),
    IssueCode.SEVERAL_OPTIONS_MARKED: "more than one option is marked",
    IssueCode.POOR_ALIGNMENT: "the page could not be aligned well to its template",
    IssueCode.MISSING_PAGES: "pages of this form are missing",
    IssueCode.VERSION_UNCERTAIN: "two versions of this form look alike; check the version",
    IssueCode.PAGE_UNIDENTIFIED: "the page does not match any template",
    IssueCode.PAGE_LOOKALIKE: (
        "the page looks like a template's page, but some of that page's print is not on it"
        " (another form or version printed alike?)"
    ),
    IssueCode.PAGE_SHARED: (
        "the page fits a template, but the pages beside it are not that form's:"
        " another form may print the same page"
    ),
    IssueCode.ALL_PAGES_BLANK: "every page is blank",
    IssueCode.NOT_A_MARK: "type x for a marked box, nothing for an empty one",
    IssueCode.TEMPLATE_ASSIGNED: "an operator chose the form; check that every field sits right",
}
