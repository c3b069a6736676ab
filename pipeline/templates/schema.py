"""The template format (``templates/<form_id>/template.yaml``), as pydantic models.

Boxes are ``[x, y, width, height]`` in PDF points (1/72 inch) from the page's top-left
corner, so a template does not depend on the scan resolution. docs/templates.md
documents every key; ``blankett template schema`` prints the JSON Schema. What each
field type means (how it is read and normalized) is in ``pipeline.fieldtypes``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.fieldtypes import FIELD_TYPES
from pipeline.fieldtypes import MARK_TYPES as MARK_TYPES
from pipeline.fieldtypes import FieldType as FieldType

RULE_NAMES = frozenset(
    {"required", "regex", "min", "max", "min_length", "max_length", "not_in_future", "in"}
)
GroupKind = Literal["exactly_one", "at_least_one", "at_most_one", "all_required"]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-.]*$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Box = Annotated[
    tuple[float, float, float, float],
    Field(description="[x, y, width, height] in PDF points from the page's top-left"),
]


def _check_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    # NaN compares false with everything, so it passed "width <= 0" and every bounds
    # check after it, and then failed every document: refuse it here, by name.
    if not all(math.isfinite(v) for v in box):
        raise ValueError(
            f"box values must be finite numbers, got [{', '.join(str(v) for v in box)}]"
        )
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError("box width and height must be positive")
    return box


class OcrSpec(_Model):
    lang: str | None = Field(None, description="Tesseract languages, e.g. swe+eng; default by type")
    whitelist: str | None = Field(None, description="Only these characters; default by type")
    single_line: bool = True
    comb: int | None = Field(None, ge=1, description="Number of comb cells (one char each)")


class RuleSpec(_Model):
    """One rule; in YAML either a bare name (``required``) or ``{name: argument}``."""

    name: str
    arg: Any = None

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"name": v}
        if isinstance(v, dict) and len(v) == 1 and "name" not in v:
            ((k, a),) = v.items()
            return {"name": k, "arg": a}
        return v

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in RULE_NAMES:
            raise ValueError(f"unknown rule {v!r}; known: {', '.join(sorted(RULE_NAMES))}")
        return v

    @model_validator(mode="after")
    def _arg_shape(self) -> RuleSpec:
        needs: dict[str, type | tuple[type, ...]] = {
            "regex": str,
            "min": (int, float),
            "max": (int, float),
            "min_length": int,
            "max_length": int,
            "in": list,
        }
        want = needs.get(self.name)
        if want is not None and not isinstance(self.arg, want):
            raise ValueError(f"rule {self.name!r} needs an argument ({want})")
        if self.name == "regex":
            re.compile(self.arg)
        return self


class ChoiceOption(_Model):
    value: str
    box: Box
    source: str | None = Field(None, description="AcroForm export value of this option")

    _box = field_validator("box")(_check_box)


class GuessNote(_Model):
    """Why ``template import-pdf`` gave a field its type (or a group its kind).

    ``template check`` warns about an uncertain guess while the type is still the one
    guessed; delete the note (or set ``uncertain: false``) once it has been checked.
    """

    type: str = Field(description="The field type (or group kind) the importer guessed")
    reason: str = Field(description="What in the PDF the guess came from")
    uncertain: bool = Field(False, description="The importer was unsure: look at this one")


class FieldSpec(_Model):
    name: str
    page: int = Field(ge=1)
    type: FieldType = "text"
    box: Box | None = None
    label: str | None = Field(None, description="Printed label, shown to operators")
    source: str | None = Field(
        None, description="AcroForm field name this field was imported from (re-import key)"
    )
    ocr: OcrSpec = OcrSpec()
    rules: tuple[RuleSpec, ...] = ()
    options: tuple[ChoiceOption, ...] = Field((), description="type choice: one box per option")
    guess: GuessNote | None = Field(None, description="Set by import-pdf: why this type")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("field names are letters, digits, _ - . and start with a letter")
        return v

    @field_validator("box")
    @classmethod
    def _box(cls, v: Box | None) -> Box | None:
        return None if v is None else _check_box(v)

    @model_validator(mode="after")
    def _shape(self) -> FieldSpec:
        if FIELD_TYPES[self.type].reader == "choice":
            if len(self.options) < 2:
                raise ValueError("a choice field needs at least two options, each with a box")
        elif self.box is None:
            raise ValueError("box is required")
        elif self.options:
            raise ValueError("options are only for type: choice")
        return self

    @property
    def required(self) -> bool:
        return any(r.name == "required" for r in self.rules)

    @property
    def region(self) -> tuple[float, float, float, float]:
        """The box, or for a choice the box around all options."""
        if self.box is not None:
            return self.box
        x0 = min(o.box[0] for o in self.options)
        y0 = min(o.box[1] for o in self.options)
        x1 = max(o.box[0] + o.box[2] for o in self.options)
        y1 = max(o.box[1] + o.box[3] for o in self.options)
        return (x0, y0, x1 - x0, y1 - y0)


class GroupSpec(_Model):
    """A rule over several fields, e.g. exactly one of these checkboxes."""

    name: str
    kind: GroupKind
    fields: tuple[str, ...] = Field(min_length=1)
    when: str | None = Field(None, description="Apply only if this field is checked / filled")
    guess: GuessNote | None = Field(None, description="Set by import-pdf: why this group")


class FormCode(_Model):
    """A barcode printed on the blank form that names the form (and often its version)."""

    text: str = Field(min_length=1)
    box: Box

    _box = field_validator("box")(_check_box)


class PageSpec(_Model):
    number: int = Field(ge=1)
    image: str = Field(description="Reference image file beside template.yaml")
    width: float = Field(gt=0, allow_inf_nan=False, description="Page width in points")
    height: float = Field(gt=0, allow_inf_nan=False, description="Page height in points")
    optional: bool = Field(
        False, description="May be left out (a continuation sheet): not a missing page"
    )
    form_code: FormCode | None = Field(
        None, description="Form-id barcode on this page: cheap, exact identification evidence"
    )


class TemplateSpec(_Model):
    id: str
    version: int = Field(1, ge=1)
    title: str = ""
    language: str | None = Field(None, description="Default OCR language for text fields")
    pages: tuple[PageSpec, ...] = Field(min_length=1)
    fields: tuple[FieldSpec, ...] = ()
    groups: tuple[GroupSpec, ...] = ()

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError("id must be lower-case letters, digits, _ or -")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> TemplateSpec:
        numbers = [p.number for p in self.pages]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("pages must be numbered 1, 2, 3 ... in order")
        names: set[str] = set()
        for f in self.fields:
            if f.name in names:
                raise ValueError(f"field {f.name!r} is defined twice")
            names.add(f.name)
            if f.page > len(self.pages):
                raise ValueError(f"field {f.name!r} is on page {f.page}, which does not exist")
            page = self.pages[f.page - 1]
            x, y, w, h = f.region
            if x < 0 or y < 0 or x + w > page.width + 0.5 or y + h > page.height + 0.5:
                raise ValueError(f"field {f.name!r}: box falls outside page {f.page}")
        for g in self.groups:
            for n in (*g.fields, *([g.when] if g.when else [])):
                if n not in names:
                    raise ValueError(f"group {g.name!r} names unknown field {n!r}")
        return self

    def page_fields(self, page: int) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.page == page)
