"""normalize: a document's bytes to upright-agnostic grayscale pages at the working dpi.

PDF pages are rasterized with pypdfium2 (grayscale), except a scanned page, whose one
embedded image is taken as it is (no resampling of a resampled scan). TIFF frames and
PNG/JPEG images are decoded directly. Pages come one at a time (``pages`` is a
generator): a 300-page file never holds more than the page in hand, so a worker's memory
does not grow with the page count. Every page's pixel count is checked against the limit
*before* decoding, both the pixels decoded and the pixels the page will have at the
working dpi (a 50-dpi header on a large image would otherwise be upscaled 36-fold after
the check), so a decompression bomb costs nothing. Orientation is decided in identify,
from the matched transform: on forms it is more reliable than text-based OSD.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from pipeline.config import LimitsConfig, NormalizeConfig
from pipeline.errors import CorruptFile, EncryptedPdf, TooLarge
from pipeline.imaging import is_blank
from pipeline.pdfrender import PDFIUM
from pipeline.records import Document, Gray, Page, frozen_image

# Long side of the usual page sizes (A4 11.69 in, Letter 11 in), for images with no dpi.
_TYPICAL_LONG_SIDE_IN = 11.4


Source = Literal["rendered", "embedded", "raster"]


def pages(doc: Document, cfg: NormalizeConfig, limits: LimitsConfig) -> Iterator[Page]:
    """Every page of ``doc``, in order, at ``cfg.dpi``, with blank pages marked; made one
    at a time, when the caller asks for it. A page over a limit raises when it is reached."""
    if doc.kind == "pdf":
        rasters = _pdf_pages(doc, cfg.dpi, limits)
    else:
        rasters = _image_pages(doc, cfg.dpi, limits)
    for number, (img, source) in enumerate(rasters, start=1):
        yield Page(
            number=number,
            image=frozen_image(img),
            dpi=cfg.dpi,
            blank=is_blank(img, cfg.blank_ink_ratio),
            source=source,
        )
        # A generator keeps its locals: let go of this page before the next is made.
        del img


def normalize(doc: Document, cfg: NormalizeConfig, limits: LimitsConfig) -> list[Page]:
    """Every page at once, for short files in tests and tools; the pipeline streams
    ``pages`` instead (all pages of a long file at once is gigabytes)."""
    return list(pages(doc, cfg, limits))


def scaled_size(w: int, h: int, from_dpi: float, to_dpi: float) -> tuple[int, int]:
    """The size ``_to_dpi`` gives a ``w`` x ``h`` image, known before it is decoded."""
    if abs(from_dpi - to_dpi) / to_dpi < 0.03:
        return w, h
    f = to_dpi / from_dpi
    return round(w * f), round(h * f)


def _to_dpi(img: Gray, from_dpi: float, to_dpi: float) -> Gray:
    if abs(from_dpi - to_dpi) / to_dpi < 0.03:
        return img
    f = to_dpi / from_dpi
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC
    return cv2.resize(img, None, fx=f, fy=f, interpolation=interp)


def check_pixels(path: Path | str, number: int, w: int, h: int, limits: LimitsConfig) -> None:
    """Refuse page ``number`` of the file at ``path`` before ``w`` x ``h`` pixels are made."""
    if w * h > limits.max_pixels:
        raise TooLarge(
            f"page {number} would be {w}x{h} pixels, over the limit of {limits.max_pixels}"
            " (possible decompression bomb)",
            path=str(path),
        )


def _check_scaled(
    doc: Document, number: int, size: tuple[int, int], native: float, dpi: int, limits: LimitsConfig
) -> None:
    """Both what decoding makes and what scaling to the working dpi makes."""
    check_pixels(doc.path, number, *size, limits)
    check_pixels(doc.path, number, *scaled_size(*size, native, dpi), limits)


def _pdf_pages(doc: Document, dpi: int, limits: LimitsConfig) -> Iterator[tuple[Gray, Source]]:
    # The lock is held per call into PDFium and never across a yield: the caller's work on
    # a page must not keep another thread out of PDFium.
    with PDFIUM:
        pdf = open_pdf(doc.data, doc.path)
    try:
        with PDFIUM:
            n = len(pdf)
        if n == 0:
            raise CorruptFile("the PDF has no pages", path=doc.path)
        if n > limits.max_pages:
            raise TooLarge(f"{n} pages is over the limit of {limits.max_pages}", path=doc.path)
        for i in range(n):
            with PDFIUM:
                page = pdf[i]
                try:
                    out = _pdf_page(doc, page, i + 1, dpi, limits)
                finally:
                    page.close()
            yield out
            del out
    finally:
        with PDFIUM:
            pdf.close()


def open_pdf(source: bytes | Path, path: Path) -> pdfium.PdfDocument:
    """A PDF opened with PDFium (the caller holds ``PDFIUM``); a password or a broken file
    is an ``InputError`` naming ``path``."""
    try:
        return pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise EncryptedPdf("the PDF is encrypted with a password", path=path) from None
        raise CorruptFile(f"the PDF cannot be read ({exc})", path=path) from None


def _pdf_page(
    doc: Document, page: pdfium.PdfPage, number: int, dpi: int, limits: LimitsConfig
) -> tuple[Gray, Source]:
    w_pt, h_pt = page.get_size()
    embedded = _embedded_scan(doc, page, number, dpi, limits)
    if embedded is not None:
        return embedded, "embedded"
    scale = dpi / 72.0
    check_pixels(doc.path, number, round(w_pt * scale), round(h_pt * scale), limits)
    try:
        bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
    except pdfium.PdfiumError as exc:
        raise CorruptFile(f"page {number} cannot be rendered ({exc})", path=doc.path) from None
    try:
        return bitmap_gray(bitmap), "rendered"
    finally:
        bitmap.close()


def bitmap_gray(bitmap: pdfium.PdfBitmap) -> Gray:
    """A PDFium bitmap as a grayscale array of its own (the bitmap may be closed after)."""
    arr = _as_gray(bitmap.to_numpy())
    return arr if arr.base is None else arr.copy()


def _embedded_scan(
    doc: Document, page: pdfium.PdfPage, number: int, dpi: int, limits: LimitsConfig
) -> Gray | None:
    """The page's single full-page image, unrotated, when the page is just a scan."""
    if page.get_rotation() != 0:
        return None
    w_pt, h_pt = page.get_size()
    images = []
    for obj in page.get_objects(max_depth=1):
        if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            images.append(obj)
        elif obj.type == pdfium_c.FPDF_PAGEOBJ_TEXT:
            return None  # text on the page (an OCR layer or a born-digital form): render
    if len(images) != 1:
        return None
    img = images[0]
    a, b, c, d, _, _ = img.get_matrix().get()
    if abs(b) > 1e-6 or abs(c) > 1e-6 or a <= 0 or d <= 0:
        return None  # rotated or mirrored placement: let pdfium compose it
    left, bottom, right, top = img.get_bounds()
    if (right - left) * (top - bottom) < 0.9 * w_pt * h_pt:
        return None
    px_w, px_h = img.get_px_size()
    placed_dpi = px_w / ((right - left) / 72.0)
    _check_scaled(doc, number, (px_w, px_h), placed_dpi, dpi, limits)
    try:
        bitmap = img.get_bitmap(render=False)
    except pdfium.PdfiumError:
        return None
    try:
        arr = bitmap_gray(bitmap)
    finally:
        # PDFium owns this buffer; ours is a copy, so freeing it now (under the lock, not
        # later from a finalizer in whatever thread) is safe.
        bitmap.warn_on_close = False
        bitmap.close()
    return _to_dpi(arr, placed_dpi, dpi)


def _as_gray(arr: np.ndarray) -> Gray:
    if arr.ndim == 2:
        return np.ascontiguousarray(arr)
    if arr.shape[2] == 1:
        return np.ascontiguousarray(arr[:, :, 0])
    if arr.shape[2] == 4:
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(arr, cv2.COLOR_BGR2GRAY)


# What Pillow raises on damaged data depends on where the damage is (found by the
# property tests in tests/test_properties.py: a bad TIFF tag gives TypeError, for one).
_BROKEN = (
    OSError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    ZeroDivisionError,
    SyntaxError,
    struct.error,
)


def _image_pages(doc: Document, dpi: int, limits: LimitsConfig) -> Iterator[tuple[Gray, Source]]:
    try:
        with warnings.catch_warnings():
            # Pillow warns about bombs and corrupt metadata; both are decided here instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            im = Image.open(io.BytesIO(doc.data))
    except Image.DecompressionBombError:
        raise TooLarge(
            "the image is far over the pixel limit (decompression bomb)", path=doc.path
        ) from None
    except _BROKEN as exc:
        raise CorruptFile(f"the image cannot be read ({exc})", path=doc.path) from None
    try:
        n = getattr(im, "n_frames", 1)  # walks every page directory
    except _BROKEN as exc:
        raise CorruptFile(f"the image's pages cannot be read ({exc})", path=doc.path) from None
    if n > limits.max_pages:
        raise TooLarge(f"{n} pages is over the limit of {limits.max_pages}", path=doc.path)
    for i in range(n):
        try:
            im.seek(i)
        except _BROKEN as exc:
            raise CorruptFile(f"page {i + 1} cannot be read ({exc})", path=doc.path) from None
        native = native_dpi(im)
        _check_scaled(doc, i + 1, im.size, native, dpi, limits)
        if doc.kind in ("png", "jpeg"):
            # OpenCV decodes these faster than Pillow and straight to grayscale.
            arr = cv2.imdecode(np.frombuffer(doc.data, np.uint8), cv2.IMREAD_GRAYSCALE)
            if arr is None:
                raise CorruptFile("the image data cannot be decoded", path=doc.path)
        else:
            try:
                frame = im.convert("L")
            except _BROKEN as exc:
                raise CorruptFile(
                    f"page {i + 1} cannot be decoded ({exc})", path=doc.path
                ) from None
            arr = np.asarray(frame, dtype=np.uint8).copy()
            del frame
        out = _to_dpi(arr, native, dpi)
        del arr
        yield out, "raster"
        del out


def native_dpi(im: Image.Image) -> float:
    """The image's resolution: its header's, else the one that makes it a usual page."""
    return _header_dpi(im) or max(im.size) / _TYPICAL_LONG_SIDE_IN


def _header_dpi(im: Image.Image) -> float | None:
    info = im.info.get("dpi")
    if not info:
        return None
    try:
        x = float(info[0])
    except (TypeError, ValueError, IndexError):
        return None
    return x if 50 <= x <= 2400 else None
