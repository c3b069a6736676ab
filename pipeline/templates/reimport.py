"""Re-importing a revised form: what of the previous template is kept.

Fields whose boxes did not move keep the admin's names, types, labels and rules; a type
that is still the importer's own earlier guess takes the new guess; checkbox groups that
an older import split are replaced by the family that contains them; a page's
``optional`` is kept, and a page without fields is optional.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.templates.schema import GroupSpec, TemplateSpec

SAME_BOX_PT = 2.0  # a box that moved less than this did not move


def _box_of(d: dict[str, Any]) -> list[list[float]]:
    return [d["box"]] if "box" in d else [o["box"] for o in d.get("options", [])]


def _same_place(a: list[list[float]], b: list[list[float]]) -> bool:
    return len(a) == len(b) and all(
        abs(p - q) <= SAME_BOX_PT
        for ba, bb in zip(a, b, strict=True)
        for p, q in zip(ba, bb, strict=True)
    )


def merge_previous(
    new: list[dict[str, Any]],
    groups: list[dict[str, Any]],
    prev: TemplateSpec,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool, int]:
    """Keep the admin's edits for unmoved fields; (fields, groups, layout changed, kept)."""
    old = {
        f.source: f.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        for f in prev.fields
        if f.source
    }
    for f in prev.fields:
        old.setdefault(
            f"#{f.name}", f.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        )
    changed = len(new) != len(prev.fields)
    merged, renamed, kept = [], {}, 0
    for d in new:
        o = old.get(d.get("source") or "") or old.get(f"#{d['name']}")
        if o is not None and o.get("page", 1) == d["page"] and _same_place(_box_of(o), _box_of(d)):
            keep = {**o, "page": d["page"]}
            if "box" in d:
                keep["box"] = d["box"]
            _update_guess(keep, d)
            merged.append(keep)
            kept += 1
        else:
            changed = True
            merged.append(d)
        renamed[d["name"]] = merged[-1]["name"]
    names = {d["name"] for d in merged}
    for g in groups:
        g["fields"] = [renamed.get(n, n) for n in g["fields"]]
    kept_groups = [
        g.model_dump(mode="json", exclude_none=True)
        for g in prev.groups
        if set(g.fields) <= names
        and (g.when is None or g.when in names)
        and not _outgrown(g, groups)
    ]
    covered = {tuple(g["fields"]) for g in kept_groups}
    extra = [g for g in groups if tuple(g["fields"]) not in covered and set(g["fields"]) <= names]
    return merged, kept_groups + extra, changed, kept


def _update_guess(keep: dict[str, Any], new: dict[str, Any]) -> None:
    """A type that is still the importer's old guess takes the new guess; an admin's
    type (one that differs from its guess note) stays."""
    if "guess" not in new:
        return
    note = keep.get("guess")
    if note is None:
        # Imported before guesses were noted: the note is added where it agrees.
        if keep.get("type", "text") == new["type"]:
            keep["guess"] = new["guess"]
    elif keep.get("type", "text") == note.get("type"):
        keep["type"], keep["guess"] = new["type"], new["guess"]


def _outgrown(old: GroupSpec, groups: list[dict[str, Any]]) -> bool:
    """An importer-made checkbox group that a new family guess contains (it was split)."""
    made = old.guess is not None or re.search(r"_grupp(_\d+)?$", old.name) is not None
    return (
        made
        and old.kind == "at_least_one"
        and any(set(old.fields) < set(g["fields"]) for g in groups)
    )


def optional_pages(
    pages: list[dict[str, Any]],
    fields: list[dict[str, Any]],
    prev: TemplateSpec | None,
    notes: list[str],
) -> None:
    """A page without fields (instructions, a list of attachments) may be left out of a
    scan, so it is optional; an admin's ``optional`` on the same page is kept."""
    with_fields = {d["page"] for d in fields}
    same_pages = prev is not None and len(prev.pages) == len(pages)
    for page in pages:
        n = page["number"]
        kept = same_pages and prev is not None and prev.pages[n - 1].optional
        if n not in with_fields or kept:
            page["optional"] = True
        if n not in with_fields:
            notes.append(f"page {n} has no fields: optional (a scan may leave it out)")
