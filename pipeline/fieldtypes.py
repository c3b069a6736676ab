"""The field types, in one table: what each type means to every stage.

A template field's ``type`` decides how extract reads it (OCR, barcode, mark ink), with
which OCR language and whitelist, and which normalizer in ``pipeline.rules`` turns the
reading into a value. All of that is written here, once; the template schema, extract,
validate and rules look it up instead of keeping their own lists. Adding a type means
adding a row here and its name to ``FieldType`` (checked on import).

This module imports nothing of the project, so any module may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

# Spelled out because pydantic and the JSON Schema need a Literal; the table below must
# name exactly these (checked at the end of the module).
FieldType = Literal[
    "text",
    "number",
    "amount",
    "date",
    "personnummer",
    "organisationsnummer",
    "postnummer",
    "email",
    "phone",
    "bankgiro",
    "plusgiro",
    "checkbox",
    "choice",
    "barcode",
    "signature",
]

# How extract reads a field: "text" by OCR, "barcode" by decoding, "mark" by the ink
# share inside the box, "signature" by ink spread along it, "choice" by a mark per option.
Reader = Literal["text", "barcode", "mark", "signature", "choice"]
# Which configured OCR language: "text" is the template's language or ocr.text_lang,
# "numeric" is ocr.numeric_lang (eng): digits read best with it (see OcrConfig).
LangClass = Literal["text", "numeric"]

MARK_READERS: frozenset[Reader] = frozenset({"mark", "signature", "choice"})
BOOL_READERS: frozenset[Reader] = frozenset({"mark", "signature"})


@dataclass(frozen=True)
class TypeInfo:
    """One field type. ``whitelist`` and ``lang`` are OCR defaults a template may override."""

    name: FieldType
    reader: Reader = "text"
    lang: LangClass = "text"
    whitelist: str | None = None
    # Key into pipeline.rules.NORMALIZERS; None: the reading passes through (marks).
    normalizer: str | None = None

    @property
    def is_mark(self) -> bool:
        """Judged by ink in boxes, not read as characters."""
        return self.reader in MARK_READERS

    @property
    def is_bool(self) -> bool:
        """The value is whether the box holds ink (true/false)."""
        return self.reader in BOOL_READERS


# Every list keeps the space: without it Tesseract forces gaps into other glyphs and its
# confidence collapses (postnummer "223 37": 0.32 without, 0.995 with).
_DIGITS = "0123456789 "
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _numeric(name: FieldType, extra: str) -> TypeInfo:
    """Digits (plus ``extra``) read with the numeric language, normalized by its namesake."""
    return TypeInfo(name, "text", "numeric", _DIGITS + extra, name)


_TABLE: tuple[TypeInfo, ...] = (
    TypeInfo("text", normalizer="text"),
    _numeric("number", "-+,."),
    _numeric("amount", "-+,."),
    _numeric("date", "-./"),
    _numeric("personnummer", "-+"),  # also accepts samordningsnummer (day + 60)
    _numeric("organisationsnummer", "-"),
    _numeric("postnummer", ""),
    # Addresses are ASCII: read with the numeric language, like the digit types.
    TypeInfo("email", "text", "numeric", _LETTERS + _DIGITS + "@._-+", "email"),
    _numeric("phone", "+-()/"),
    _numeric("bankgiro", "-"),
    _numeric("plusgiro", "-"),
    TypeInfo("checkbox", "mark"),
    TypeInfo("choice", "choice"),
    TypeInfo("barcode", "barcode", normalizer="text"),
    TypeInfo("signature", "signature"),
)

FIELD_TYPES: Mapping[str, TypeInfo] = {t.name: t for t in _TABLE}
MARK_TYPES: frozenset[str] = frozenset(n for n, t in FIELD_TYPES.items() if t.is_mark)

if set(get_args(FieldType)) != set(FIELD_TYPES) or len(_TABLE) != len(FIELD_TYPES):
    raise AssertionError("FieldType and the FIELD_TYPES table name different types")
