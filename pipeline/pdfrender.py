"""Rendering whole PDF pages to grayscale arrays with PDFium, for references and samples.

(The normalize stage renders scanned input itself: it checks pixel limits per page and
prefers a scanned page's embedded image.)
"""

from __future__ import annotations

import logging

import numpy as np
import pypdfium2 as pdfium

from pipeline.records import Gray


def render_pages(data: bytes, dpi: int = 300, *, forms: bool = False) -> list[Gray]:
    """Every page at ``dpi``. With ``forms``, PDFium's form filler draws the fields as a
    viewer prints them (values, borders, empty buttons)."""
    doc = pdfium.PdfDocument(data, password="")
    try:
        if forms:
            # On an XFA hybrid PDFium says it cannot run the XFA part; the AcroForm part is
            # the one we want.
            quiet = logging.getLogger("pypdfium2")
            level = quiet.level
            quiet.setLevel(logging.ERROR)
            try:
                doc.init_forms()
            finally:
                quiet.setLevel(level)
        out = []
        for i in range(len(doc)):
            page = doc[i]
            bm = page.render(scale=dpi / 72, grayscale=True, may_draw_forms=forms)
            arr = bm.to_numpy()
            out.append(np.ascontiguousarray(arr[:, :, 0] if arr.ndim == 3 else arr))
            page.close()
        return out
    finally:
        doc.close()
