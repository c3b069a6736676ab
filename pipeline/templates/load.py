"""Loading templates from ``templates/<form_id>/``: validated spec plus reference images."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
from pydantic import ValidationError

from pipeline.errors import TemplateError
from pipeline.records import Gray, frozen_image
from pipeline.templates.schema import TemplateSpec
from pipeline.yamlfile import read_yaml

TEMPLATE_FILE = "template.yaml"


@dataclass(frozen=True, eq=False)
class Template:
    """A template with its reference pages rastered at ``dpi``."""

    spec: TemplateSpec
    folder: Path
    dpi: float
    references: tuple[Gray, ...] = field(repr=False)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def version(self) -> int:
        return self.spec.version

    def scale(self) -> float:
        """Reference pixels per PDF point."""
        return self.dpi / 72.0


def read_spec(path: Path) -> TemplateSpec:
    """Parse and validate one template.yaml, with errors that name the file and the field."""
    raw = read_yaml(path, TemplateError, "template file")
    try:
        return TemplateSpec.model_validate(raw)
    except ValidationError as exc:
        raise TemplateError(_explain(exc, raw), path=path) from None


def _explain(exc: ValidationError, raw: object) -> str:
    parts = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        # Name the field, not just its index: admins edit by name.
        if len(loc) >= 2 and loc[0] == "fields" and isinstance(loc[1], int):
            try:
                name = raw["fields"][loc[1]].get("name")  # type: ignore[index]
            except (TypeError, KeyError, IndexError, AttributeError):
                name = None
            if name:
                where = f"field {name!r} ({where})"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def load_template(folder: Path, dpi: float) -> Template:
    spec = read_spec(folder / TEMPLATE_FILE)
    refs = []
    for page in spec.pages:
        img_path = folder / page.image
        img = cv2.imread(str(img_path), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise TemplateError(
                f"reference image {page.image!r} missing or unreadable", path=folder / TEMPLATE_FILE
            )
        want_w = round(page.width / 72.0 * dpi)
        want_h = round(page.height / 72.0 * dpi)
        if abs(img.shape[1] - want_w) > 2 or abs(img.shape[0] - want_h) > 2:
            interp = cv2.INTER_AREA if img.shape[1] > want_w else cv2.INTER_CUBIC
            img = cv2.resize(img, (want_w, want_h), interpolation=interp)
        refs.append(frozen_image(img))
    return Template(spec=spec, folder=folder, dpi=dpi, references=tuple(refs))


VERSIONS_DIR = "versions"


def template_dirs(root: Path) -> list[Path]:
    """``<root>/<id>/`` (the current version) and ``<root>/<id>/versions/<n>/`` (earlier
    versions, kept so that scans of older printings are still recognised)."""
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        if (d / TEMPLATE_FILE).is_file():
            out.append(d)
        vdir = d / VERSIONS_DIR
        if vdir.is_dir():
            out += sorted(v for v in vdir.iterdir() if (v / TEMPLATE_FILE).is_file())
    return out


def load_templates(root: Path, dpi: float) -> tuple[Template, ...]:
    """Every ``<root>/*/template.yaml``; a broken one stops the load with its reason."""
    if not root.is_dir():
        raise TemplateError("templates folder not found", path=root)
    templates = [load_template(d, dpi) for d in template_dirs(root)]
    seen: dict[tuple[str, int], Path] = {}
    for t in templates:
        key = (t.id, t.version)
        if key in seen:
            raise TemplateError(
                f"template {t.id} version {t.version} also defined in {seen[key]}",
                path=t.folder / TEMPLATE_FILE,
            )
        seen[key] = t.folder
    return tuple(templates)


def load_specs(templates_dir: Path) -> dict[tuple[str, int], TemplateSpec]:
    """Every template version's spec by (form id, version), without reference images
    (the review UI needs the boxes only)."""
    out = {}
    if templates_dir.is_dir():
        for d in template_dirs(templates_dir):
            spec = read_spec(d / TEMPLATE_FILE)
            out[(spec.id, spec.version)] = spec
    return out
