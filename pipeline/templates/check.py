"""``template check``: what is likely wrong with a template, and an overlay to look at.

Schema errors stop at loading (they name the field); these are the checks a schema cannot
make: boxes that overlap, run off the page, or sit on printed text instead of on the
blank space a person writes in; importer guesses that were unsure and are not yet
checked; pages without fields that a scan must still include.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.templates.guess import guess_field
from pipeline.templates.load import Template
from pipeline.templates.schema import FieldSpec, TemplateSpec

OVERLAP_SHARE = 0.2  # of the smaller box
PRINTED_SHARE = 0.15  # share of the box interior already printed on the blank form
COLOURS = {  # BGR, by what the field holds
    "text": (200, 90, 20),
    "checkbox": (40, 150, 40),
    "choice": (0, 140, 255),
    "signature": (40, 40, 210),
    "barcode": (60, 60, 60),
}
NUMERIC_COLOUR = (150, 40, 150)


@dataclass(frozen=True)
class Finding:
    level: str  # "warning" | "error"
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.field}: {self.message}"


def _boxes(f: FieldSpec) -> list[tuple[float, float, float, float]]:
    return [f.box] if f.box is not None else [o.box for o in f.options]


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / min(a[2] * a[3], b[2] * b[3])


def check_template(t: Template) -> list[Finding]:
    out: list[Finding] = []
    scale = t.scale()
    for page in t.spec.pages:
        fields = t.spec.page_fields(page.number)
        ref = t.references[page.number - 1]
        for i, f in enumerate(fields):
            for g in fields[i + 1 :]:
                if any(_overlap(a, b) > OVERLAP_SHARE for a in _boxes(f) for b in _boxes(g)):
                    out.append(Finding("warning", f.name, f"overlaps {g.name!r}"))
            for box in _boxes(f):
                x, y, w, h = box
                if x < 0 or y < 0 or x + w > page.width or y + h > page.height:
                    out.append(Finding("error", f.name, f"box runs off page {page.number}"))
                    continue
                share = _printed_share(ref, box, scale)
                if share > PRINTED_SHARE:
                    out.append(
                        Finding(
                            "warning",
                            f.name,
                            f"{share:.0%} of the box is printed on the blank form: is it on a "
                            "label or text instead of the space a person writes in?",
                        )
                    )
            if f.type not in ("checkbox", "choice", "signature") and f.box and f.box[3] < 7:
                out.append(Finding("warning", f.name, "box under 7 pt high: too low for text"))
        if not fields and not page.optional:
            out.append(
                Finding(
                    "warning",
                    f"page {page.number}",
                    "has no fields but is required: a scan without it is missing_pages "
                    "(set optional: true unless the page must be sent)",
                )
            )
    return out + uncertain_guesses(t.spec)


def uncertain_guesses(spec: TemplateSpec) -> list[Finding]:
    """Importer guesses an admin has not yet confirmed, as warnings.

    A note counts while the type (or group kind) is still the guessed one: changing it
    or deleting the note is the admin's answer. Fields imported before notes were kept
    are guessed again from their source name and label.
    """
    out = []
    for f in spec.fields:
        note = f.guess
        if note is None and f.source and f.type not in ("checkbox", "choice"):
            # import-pdf wrote the name as the label when there was no tooltip.
            label = f.label or ""
            again = guess_field(f.source, "" if label == f.source[:120] else label)
            if again.uncertain:
                out.append(
                    Finding(
                        "warning",
                        f.name,
                        f"type {f.type}; the importer would now guess {again.type}, unsure: "
                        f"{again.reason}. Check it, then add guess: {{type: {f.type}, reason: "
                        "checked}",
                    )
                )
            continue
        if note is not None and note.uncertain and note.type == f.type:
            out.append(
                Finding(
                    "warning",
                    f.name,
                    f"guessed type {f.type}, unsure: {note.reason}. Check it, then delete "
                    "its guess note",
                )
            )
    for g in spec.groups:
        gn = g.guess
        if gn is not None and gn.uncertain and gn.type == g.kind:
            out.append(
                Finding(
                    "warning",
                    g.name,
                    f"guessed group {g.kind}, unsure: {gn.reason}. Check it, then delete "
                    "its guess note",
                )
            )
    return out


def _printed_share(ref: NDArray[np.uint8], box: tuple[float, ...], scale: float) -> float:
    x0, y0 = int(box[0] * scale), int(box[1] * scale)
    x1, y1 = int((box[0] + box[2]) * scale), int((box[1] + box[3]) * scale)
    # The box's own outline is expected; look inside it.
    dx, dy = max(2, (x1 - x0) // 10), max(2, (y1 - y0) // 10)
    inner = ref[y0 + dy : y1 - dy, x0 + dx : x1 - dx]
    if inner.size == 0:
        return 0.0
    return float(np.count_nonzero(inner < 160)) / inner.size


def overlay(t: Template, page: int) -> NDArray[np.uint8]:
    """The page's reference with every field box, name and type drawn on it (BGR)."""
    ref = t.references[page - 1]
    img = cv2.cvtColor(ref, cv2.COLOR_GRAY2BGR)
    img = (img.astype(np.float32) * 0.55 + 255 * 0.45).astype(np.uint8)  # fade the form
    s = t.scale()
    font, fs, th = cv2.FONT_HERSHEY_SIMPLEX, max(0.5, s / 5.0), max(1, round(s / 2.5))
    for f in t.spec.page_fields(page):
        colour = COLOURS.get(f.type, NUMERIC_COLOUR)
        for k, (x, y, w, h) in enumerate(_boxes(f)):
            p0 = (round(x * s), round(y * s))
            p1 = (round((x + w) * s), round((y + h) * s))
            cv2.rectangle(img, p0, p1, colour, th + 1)
            if f.type == "choice":
                cv2.putText(
                    img,
                    f.options[k].value,
                    (p1[0] + 4, p1[1]),
                    font,
                    fs * 0.8,
                    colour,
                    th,
                    cv2.LINE_AA,
                )
            if f.ocr.comb and k == 0:
                cell = (p1[0] - p0[0]) / f.ocr.comb
                for c in range(1, f.ocr.comb):
                    cx = round(p0[0] + c * cell)
                    cv2.line(img, (cx, p1[1] - (p1[1] - p0[1]) // 3), (cx, p1[1]), colour, th)
        x, y, w, h = f.region
        tag = f"{f.name} [{f.type}{'*' if f.required else ''}]"
        (tw, tht), base = cv2.getTextSize(tag, font, fs, th)
        # On a white label at the box's bottom-left, inside it: printed labels sit at the
        # top, and a box's bottom is where the writing goes, so it is blank on the form.
        # Boxes too small for their tag (marks) get it just above them instead.
        x0, y1 = round(x * s) + th + 2, round((y + h) * s) - th - 2
        if tw + 8 > w * s or tht + base + 6 > h * s:
            y1 = round(y * s) - th - 2
        cv2.rectangle(img, (x0, y1 - tht - base - 2), (x0 + tw + 4, y1), (255, 255, 255), -1)
        cv2.putText(img, tag, (x0 + 2, y1 - base), font, fs, colour, th, cv2.LINE_AA)
    return img
