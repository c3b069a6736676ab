"""PDFium in one place: the lock every use of it holds, and whole-page renders for
references and samples.

PDFium is not thread-safe (pypdfium2 says so): two threads inside it at once corrupt its
heap and kill the process (the review UI died when a browser asked for two page images
at once). Every PDFium call in this package (opening, rendering, reading page objects,
closing) runs while holding ``PDFIUM``; objects are closed explicitly under it, so no
garbage-collector finalizer enters PDFium later from another thread. Worker processes
are single-threaded, so there the lock costs nothing.

(The normalize stage renders scanned input itself: it checks pixel limits per page and
prefers a scanned page's embedded image.)
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import pypdfium2 as pdfium

from pipeline.records import Gray

# Re-entrant: a holder may call helpers that take it again. A plain lock object costs
# nothing to create; it must exist before the first thread can race for it.
PDFIUM = threading.RLock()


def render_pages(data: bytes, dpi: int = 300, *, forms: bool = False) -> list[Gray]:
    """Every page at ``dpi``. With ``forms``, PDFium's form filler draws the fields as a
    viewer prints them (values, borders, empty buttons)."""
    with PDFIUM:
        doc = pdfium.PdfDocument(data, password="")
        try:
            if forms:
                # On an XFA hybrid PDFium says it cannot run the XFA part; the AcroForm part
                # is the one we want.
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
                out.append(np.array(arr[:, :, 0] if arr.ndim == 3 else arr, copy=True))
                bm.close()
                page.close()
            return out
        finally:
            doc.close()
