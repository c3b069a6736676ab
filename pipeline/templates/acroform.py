"""Reading the AcroForm widgets of a fillable PDF: where each field is and what kind.

Uses pypdf. XFA hybrids are read through their AcroForm part; a PDF encrypted with an
empty user password is opened; widget rectangles are mapped through the crop box and page
rotation to the displayed page's top-left coordinates in points (template coordinates).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError

from pipeline.errors import EncryptedPdf, TemplateError

WidgetKind = Literal["text", "checkbox", "radio", "choice", "signature", "button"]

# PDF field flags (PDF 32000-1, 12.7.3 and 12.7.4)
FF_READONLY = 1 << 0
FF_MULTILINE = 1 << 12
FF_RADIO = 1 << 15
FF_PUSHBUTTON = 1 << 16
FF_COMB = 1 << 24
# Annotation flags (12.5.3)
F_HIDDEN = 1 << 1
F_NOVIEW = 1 << 5


@dataclass(frozen=True)
class PageGeometry:
    width: float  # displayed (after crop box and rotation), points
    height: float
    rotation: int
    crop: tuple[float, float, float, float]  # x0, y0, x1, y1 in user space

    def to_template(
        self, rect: tuple[float, float, float, float]
    ) -> tuple[float, float, float, float]:
        """A user-space rectangle as [x, y, w, h] from the displayed page's top-left."""
        cx0, cy0, cx1, cy1 = self.crop
        w, h = cx1 - cx0, cy1 - cy0
        pts = []
        for x, y in ((rect[0], rect[1]), (rect[2], rect[3])):
            u, v = x - cx0, cy1 - y  # unrotated, y down
            if self.rotation == 90:
                u, v = h - v, u
            elif self.rotation == 180:
                u, v = w - u, h - v
            elif self.rotation == 270:
                u, v = v, w - u
            pts.append((u, v))
        (u0, v0), (u1, v1) = pts
        return (min(u0, u1), min(v0, v1), abs(u1 - u0), abs(v1 - v0))


@dataclass(frozen=True)
class Widget:
    name: str  # fully qualified field name ("" when the field has none)
    page: int  # 1-based
    box: tuple[float, float, float, float]  # template coordinates
    kind: WidgetKind
    tooltip: str = ""
    multiline: bool = False
    comb: int | None = None
    max_len: int | None = None
    read_only: bool = False
    hidden: bool = False
    export: str | None = None  # checkbox / radio: the value when on


@dataclass(frozen=True)
class AcroForm:
    pages: tuple[PageGeometry, ...]
    widgets: tuple[Widget, ...]
    xfa: bool
    encrypted: bool
    notes: tuple[str, ...] = field(default=())
    title: str = ""  # the PDF's own title (document info, else XMP), "" when it has none


def _file_name_like(text: str) -> bool:
    # Authoring tools often leave a file name as the title ("Microsoft Word - x.docx").
    return bool(re.search(r"\.(docx?|pdf|odt|rtf|indd|xlsx?|dotx?)\s*$", text, re.I)) or (
        text.lower() in {"untitled", "namnlös", "dokument1", "document1"}
    )


def pdf_title(reader: PdfReader) -> str:
    """The document's own title: the info dictionary's, else XMP dc:title; "" when there
    is none or it is only a file name."""
    candidates: list[str] = []
    try:
        info = reader.metadata
        if info is not None and info.title:
            candidates.append(str(info.title))
        xmp = reader.xmp_metadata
        if xmp is not None and xmp.dc_title:
            candidates += [str(v) for v in xmp.dc_title.values()]
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError):
        # A broken metadata stream costs the title, not the import.
        pass
    for raw in candidates:
        text = " ".join(raw.replace("\x00", "").split())
        if text and not _file_name_like(text):
            return text[:200]
    return ""


def _inherited(node: Any, key: str) -> Any:
    while node is not None:
        node = node.get_object()
        if key in node:
            return node[key].get_object() if hasattr(node[key], "get_object") else node[key]
        node = node.get("/Parent")
    return None


def full_name(widget: Any) -> str:
    parts = []
    node = widget
    while node is not None:
        node = node.get_object()
        t = node.get("/T")
        if t is not None:
            parts.append(str(t))
        node = node.get("/Parent")
    return ".".join(reversed(parts))


def on_state(widget: Any) -> str | None:
    """The appearance state that means "checked" (a checkbox's or radio button's export).

    Usually the one state besides /Off; some forms name the off state oddly (W-9: /1 and
    /N), so a state the down appearances share is preferred.
    """
    ap = widget.get("/AP")
    if ap is None:
        return None
    ap = ap.get_object()

    def states(key: str) -> list[str]:
        d: Any = ap.get(key)
        d = d.get_object() if d is not None else None
        if not hasattr(d, "keys"):
            return []
        return [str(k).lstrip("/") for k in d if str(k) != "/Off"]

    normal, down = states("/N"), states("/D")
    shared = [s for s in normal if s in down]
    best = shared or normal
    return best[0] if best else None


def _kind(ft: Any, flags: int) -> WidgetKind:
    if ft == "/Tx":
        return "text"
    if ft == "/Ch":
        return "choice"
    if ft == "/Sig":
        return "signature"
    if ft == "/Btn":
        if flags & FF_PUSHBUTTON:
            return "button"
        return "radio" if flags & FF_RADIO else "checkbox"
    return "button"


def read_acroform(data: bytes, source: str) -> AcroForm:
    """Every widget of every page; raises TemplateError when there is no form to read."""
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
        if encrypted and not reader.decrypt(""):
            raise EncryptedPdf("the PDF needs a password to open", path=source)
        pages = reader.pages
        n_pages = len(pages)
    except (PdfReadError, FileNotDecryptedError, ValueError, KeyError) as exc:
        raise TemplateError(f"cannot read the PDF ({exc})", path=source) from None
    root: Any = reader.trailer["/Root"].get_object()
    acro: Any = root.get("/AcroForm")
    acro = acro.get_object() if acro is not None else None
    xfa = bool(acro is not None and "/XFA" in acro)
    geoms, widgets, notes = [], [], []
    for i in range(n_pages):
        page = pages[i]
        crop = tuple(float(v) for v in page.cropbox)
        rot = int(page.get("/Rotate", 0) or 0) % 360
        w, h = crop[2] - crop[0], crop[3] - crop[1]
        geom = PageGeometry(
            h if rot in (90, 270) else w,
            w if rot in (90, 270) else h,
            rot,
            (crop[0], crop[1], crop[2], crop[3]),
        )
        geoms.append(geom)
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            if a.get("/Subtype") != "/Widget":
                continue
            ft = _inherited(a, "/FT")
            flags = int(_inherited(a, "/Ff") or 0)
            aflags = int(a.get("/F", 0) or 0)
            rect = tuple(float(v) for v in a["/Rect"])
            max_len = _inherited(a, "/MaxLen")
            kind = _kind(ft, flags)
            comb = int(max_len) if (flags & FF_COMB and max_len) else None
            tooltip = _inherited(a, "/TU")
            widgets.append(
                Widget(
                    name=full_name(a),
                    page=i + 1,
                    box=geom.to_template((rect[0], rect[1], rect[2], rect[3])),
                    kind=kind,
                    tooltip=str(tooltip) if tooltip else "",
                    multiline=bool(flags & FF_MULTILINE),
                    comb=comb,
                    max_len=int(max_len) if max_len else None,
                    read_only=bool(flags & FF_READONLY),
                    hidden=bool(aflags & (F_HIDDEN | F_NOVIEW)),
                    export=on_state(a) if kind in ("checkbox", "radio") else None,
                )
            )
    if not widgets:
        raise TemplateError("the PDF has no form fields (AcroForm widgets) to import", path=source)
    if xfa:
        notes.append("XFA hybrid: the AcroForm part was used")
    if encrypted:
        notes.append("encrypted with an empty user password: opened without one")
    return AcroForm(
        tuple(geoms), tuple(widgets), xfa, encrypted, tuple(notes), title=pdf_title(reader)
    )
