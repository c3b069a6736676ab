"""Template schema and loading: clear errors that name the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from pipeline.errors import TemplateError
from pipeline.fieldtypes import FIELD_TYPES, MARK_TYPES
from pipeline.templates.load import load_template, load_templates, read_spec
from pipeline.templates.schema import FieldType, TemplateSpec
from tests.conftest import TEMPLATES


def _spec(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "demo",
        "version": 2,
        "pages": [{"number": 1, "image": "page-1.png", "width": 595.28, "height": 841.89}],
        "fields": [
            {"name": "namn", "page": 1, "box": [40, 100, 200, 30], "rules": ["required"]},
            {"name": "pnr", "page": 1, "type": "personnummer", "box": [250, 100, 200, 30]},
            {"name": "a", "page": 1, "type": "checkbox", "box": [40, 200, 10, 10]},
            {"name": "b", "page": 1, "type": "checkbox", "box": [40, 220, 10, 10]},
        ],
        "groups": [{"name": "ab", "kind": "exactly_one", "fields": ["a", "b"]}],
    }
    base.update(over)
    return base


def _write(tmp_path: Path, spec: dict[str, Any]) -> Path:
    p = tmp_path / "template.yaml"
    p.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return p


def test_valid_template_parses_rules_in_both_shapes(tmp_path: Path):
    spec = _spec()
    spec["fields"][0]["rules"] = ["required", {"max_length": 40}, {"regex": "^[A-Ö]"}]
    t = read_spec(_write(tmp_path, spec))
    assert [r.name for r in t.fields[0].rules] == ["required", "max_length", "regex"]
    assert t.fields[0].rules[1].arg == 40
    assert t.fields[0].required


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda s: s["fields"][1].update(rules=["luhn-ish"]), "field 'pnr'"),
        (lambda s: s["fields"][0].update(box=[500, 100, 200, 30]), "falls outside page 1"),
        (lambda s: s["fields"][0].update(box=[40, 100, 0, 30]), "positive"),
        (lambda s: s["fields"].append(dict(s["fields"][0])), "defined twice"),
        (lambda s: s["groups"][0].update(fields=["a", "zz"]), "unknown field 'zz'"),
        (lambda s: s["fields"][0].update(page=3), "page 3"),
        (lambda s: s["fields"][0].update(colour="red"), "Extra inputs are not permitted"),
        (lambda s: s.update(id="Bad Id"), "lower-case"),
        (lambda s: s["fields"][1].update(type="ssn"), "field 'pnr'"),
        (lambda s: s["fields"][0].update(rules=[{"regex": 5}]), "needs an argument"),
    ],
)
def test_invalid_templates_name_file_and_field(tmp_path: Path, mutate: Any, expected: str):
    spec = _spec()
    mutate(spec)
    path = _write(tmp_path, spec)
    with pytest.raises(TemplateError) as err:
        read_spec(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_not_yaml_and_missing_file(tmp_path: Path):
    bad = tmp_path / "template.yaml"
    bad.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(TemplateError, match="not valid YAML"):
        read_spec(bad)
    with pytest.raises(TemplateError, match="not found"):
        read_spec(tmp_path / "nope" / "template.yaml")


def test_missing_reference_image_is_named(tmp_path: Path):
    _write(tmp_path, _spec())
    with pytest.raises(TemplateError, match=r"page-1\.png"):
        load_template(tmp_path, 300)


def test_choice_needs_options():
    spec = _spec()
    spec["fields"].append({"name": "c", "page": 1, "type": "choice", "options": []})
    with pytest.raises(ValueError, match="at least two options"):
        TemplateSpec.model_validate(spec)


def test_bundled_templates_load_with_references_at_working_dpi():
    templates = load_templates(TEMPLATES, 300)
    assert {t.id for t in templates} >= {"parkeringstillstand", "forskoleplats"}
    for t in templates:
        for page, ref in zip(t.spec.pages, t.references, strict=True):
            assert abs(ref.shape[1] - page.width / 72 * 300) <= 2
    # Rescaled on load for another working resolution.
    t200 = load_templates(TEMPLATES, 200)[0]
    assert abs(t200.references[0].shape[1] - t200.spec.pages[0].width / 72 * 200) <= 2


def test_json_schema_is_exported():
    schema = TemplateSpec.model_json_schema()
    json.dumps(schema)
    assert "fields" in schema["properties"]
    assert "FieldSpec" in schema["$defs"]


def test_field_type_literal_and_table_name_the_same_types():
    assert set(get_args(FieldType)) == set(FIELD_TYPES)
    assert all(name == kind.name for name, kind in FIELD_TYPES.items())
    assert sorted(MARK_TYPES) == ["checkbox", "choice", "signature"]
    schema = TemplateSpec.model_json_schema()
    assert set(schema["$defs"]["FieldSpec"]["properties"]["type"]["enum"]) == set(FIELD_TYPES)
