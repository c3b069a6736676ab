"""Drawing forms with reportlab: the blank fillable PDF, the reference, filled copies."""

from __future__ import annotations

import io
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from reportlab.lib.colors import Color, black
from reportlab.pdfgen.canvas import Canvas

from pipeline.pdfrender import render_pages
from pipeline.records import Gray
from pipeline.samplegen.forms import PAGE_H, PAGE_W, FieldDef, FormDef, PageDef

if TYPE_CHECKING:
    from pipeline.samplegen.hand import Pen

LABEL_SIZE = 6.5
INK = Color(0.08, 0.1, 0.25)  # blue-black ballpoint / printer ink


def _y(top: float) -> float:
    return PAGE_H - top


def _draw_page(c: Canvas, page: PageDef) -> None:
    c.setStrokeColor(black)
    c.setFillColor(black)
    for t in page.texts:
        c.setFont("Helvetica-Bold" if t.bold else "Helvetica", t.size)
        c.drawString(t.x, _y(t.y), t.text)
    c.setLineWidth(0.8)
    for x0, y0, x1, y1 in page.rules:
        c.line(x0, _y(y0), x1, _y(y1))
    c.setLineWidth(0.6)
    for f in page.fields:
        if f.type == "choice":
            for _, text, x, y in f.options:
                c.circle(x + f.h / 2, _y(y + f.h / 2), f.h / 2)
                c.setFont("Helvetica", 8.5)
                c.drawString(x + f.h + 4, _y(y + f.h - 1.5), text)
            continue
        if f.type == "checkbox":
            c.rect(f.x, _y(f.y + f.h), f.w, f.h)
            c.setFont("Helvetica", 8.5)
            c.drawString(f.x + f.w + 5, _y(f.y + f.h - 1.5), f.label)
            continue
        c.rect(f.x, _y(f.y + f.h), f.w, f.h)
        c.setFont("Helvetica", LABEL_SIZE)
        c.drawString(f.x + 2.5, _y(f.y + 7.5), f.label)
        if f.comb:
            cell = f.w / f.comb
            for i in range(1, f.comb):
                x = f.x + i * cell
                c.line(x, _y(f.y + f.h), x, _y(f.y + f.h - 9))


def blank_pdf(form: FormDef) -> bytes:
    """The fillable form: printed content plus one AcroForm widget per field."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=True)
    c.setTitle(form.title)
    for page in form.pages:
        _draw_page(c, page)
        for f in page.fields:
            _widget(c, f)
        c.showPage()
    c.save()
    return buf.getvalue()


def _widget(c: Canvas, f: FieldDef) -> None:
    transparent = Color(1, 1, 1, alpha=0)
    if f.type == "choice":
        for value, text, x, y in f.options:
            c.acroForm.radio(
                name=f.name,
                value=value,
                tooltip=f"{f.label}: {text}",
                x=x,
                y=_y(y + f.h),
                size=f.h,
                borderWidth=0,
                fillColor=transparent,
                buttonStyle="circle",
                shape="circle",
                fieldFlags="radio",
            )
        return
    if f.type == "checkbox":
        c.acroForm.checkbox(
            name=f.name,
            tooltip=f.label,
            x=f.x,
            y=_y(f.y + f.h),
            size=f.w,
            borderWidth=0,
            fillColor=transparent,
            buttonStyle="cross",
            fieldFlags="",
        )
        return
    flags = " ".join(x for x in ("comb" if f.comb else "", "multiline" if f.multiline else "") if x)
    c.acroForm.textfield(
        name=f.name,
        tooltip=f.label,
        x=f.x + 1,
        y=_y(f.y + f.h) + 1,
        width=f.w - 2,
        height=f.h - 10,
        borderWidth=0,
        fillColor=transparent,
        fontSize=10,
        maxlen=f.comb or 200,
        fieldFlags=flags,
    )


def reference_pdf(form: FormDef) -> bytes:
    """Only what is printed: the reference the scans are aligned to."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=True)
    for page in form.pages:
        _draw_page(c, page)
        c.showPage()
    c.save()
    return buf.getvalue()


def filled_pdf(
    form: FormDef,
    values: Mapping[str, str | bool],
    rng: random.Random,
    *,
    faces: Sequence[str] = ("Helvetica", "Courier", "Times-Roman"),
    sizes: Sequence[float] = (10.0, 10.5, 11.0),
    hand: Pen | None = None,
) -> bytes:
    """The printed form with values written in, as a person with a printer or pen would,
    in one of ``faces`` (PDF base fonts) at one of ``sizes``; with ``hand``, comb boxes
    are written by hand."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=True)
    font = rng.choice(list(faces))
    size = rng.choice(list(sizes))
    for page in form.pages:
        _draw_page(c, page)
        c.setFillColor(INK)
        c.setStrokeColor(INK)
        for f in page.fields:
            v = values.get(f.name)
            if v is None or v is False or v == "":
                continue
            if f.type == "choice":
                opt = next(o for o in f.options if o[0] == v)
                _mark(c, FieldDef(f.name, "checkbox", "", opt[2], opt[3], f.h, f.h), rng)
            elif f.type == "checkbox":
                _mark(c, f, rng)
            elif f.type == "signature":
                _scribble(c, f, rng)
            else:
                _text(c, f, str(v), font, size, rng, hand)
        c.setFillColor(black)
        c.setStrokeColor(black)
        c.showPage()
    c.save()
    return buf.getvalue()


def _clipped_text(
    c: Canvas, f: FieldDef, text: str, font: str, size: float, rng: random.Random
) -> None:
    """A value in a tight box, cut at the box's edges: its baseline anywhere from the
    bottom edge to a fifth of the font size above it, so descenders lose some or all."""
    size = min(size, f.h / 0.95)
    while c.stringWidth(text, font, size) > f.w - 6 and size > 6:
        size -= 0.5
    c.saveState()
    box = c.beginPath()
    box.rect(f.x, _y(f.y + f.h), f.w, f.h)
    c.clipPath(box, stroke=0, fill=0)
    c.setFont(font, size)
    c.drawString(f.x + 3, _y(f.y + f.h) + rng.uniform(0.0, 0.2) * size, text)
    c.restoreState()


def _text(
    c: Canvas,
    f: FieldDef,
    text: str,
    font: str,
    size: float,
    rng: random.Random,
    hand: Pen | None = None,
) -> None:
    if f.comb:
        cell = f.w / f.comb
        c.setFont("Courier", 12)
        for i, ch in enumerate(text[: f.comb]):
            if hand is not None:
                # Below the label, in the cell the dividers mark.
                hand.write(c, ch, f.x + i * cell, _y(f.y + f.h), cell, f.h - LABEL_SIZE - 4)
            else:
                c.drawCentredString(f.x + (i + 0.5) * cell, _y(f.y + f.h - 6), ch)
        return
    if f.w < 2.5 * size and not f.multiline:
        # A one-character box: a PDF viewer sets the value in its middle.
        size = min(size, f.h - 8)
        c.setFont(font, size)
        dx, dy = rng.uniform(-1.5, 1.5), rng.uniform(-1.2, 1.2)
        c.drawCentredString(f.x + f.w / 2 + dx, _y(f.y + f.h - 7 + dy), text)
        return
    if f.clip:
        _clipped_text(c, f, text, font, size, rng)
        return
    dx, dy = rng.uniform(0, 6), rng.uniform(-1.2, 1.2)
    while c.stringWidth(text, font, size) > f.w - 8 - dx and size > 6 and not f.multiline:
        size -= 0.5
    c.setFont(font, size)
    if not f.multiline:
        c.drawString(f.x + 3 + dx, _y(f.y + f.h - 7 + dy), text)
        return
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if c.stringWidth(trial, font, size) > f.w - 10:
            lines.append(line)
            line = word
        else:
            line = trial
    lines.append(line)
    for i, ln in enumerate(lines):
        c.drawString(f.x + 4 + dx, _y(f.y + 20 + i * (size + 3)), ln)


def _mark(c: Canvas, f: FieldDef, rng: random.Random) -> None:
    x0, y0 = f.x, _y(f.y + f.h)
    s = f.w
    c.setLineWidth(rng.uniform(1.0, 1.6))
    if rng.random() < 0.6:  # a cross
        m = s * rng.uniform(0.12, 0.22)
        c.line(x0 + m, y0 + m, x0 + s - m, y0 + s - m)
        c.line(x0 + m, y0 + s - m, x0 + s - m, y0 + m)
    else:  # a tick
        p = c.beginPath()
        p.moveTo(x0 + s * 0.18, y0 + s * 0.5)
        p.lineTo(x0 + s * 0.42, y0 + s * 0.2)
        p.lineTo(x0 + s * 0.85, y0 + s * 0.88)
        c.drawPath(p, stroke=1, fill=0)


def _scribble(c: Canvas, f: FieldDef, rng: random.Random) -> None:
    c.setLineWidth(1.1)
    p = c.beginPath()
    x, base = f.x + 12, _y(f.y + f.h - 8)
    p.moveTo(x, base)
    for _ in range(rng.randint(4, 7)):
        nx = x + rng.uniform(14, 30)
        p.curveTo(
            x + 4,
            base + rng.uniform(4, 14),
            nx - 4,
            base - rng.uniform(0, 6),
            nx,
            base + rng.uniform(-2, 6),
        )
        x = nx
    c.drawPath(p, stroke=1, fill=0)


def rasterize(pdf: bytes, dpi: int = 300) -> list[Gray]:
    return render_pages(pdf, dpi)
