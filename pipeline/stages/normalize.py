"""normalize: a document's bytes to upright-agnostic grayscale pages at the working dpi.

PDF pages are rasterized with pypdfium2 (grayscale), except a scanned page, whose one
embedded image is taken as it is (no resampling of a resampled scan). TIFF frames and
PNG/JPEG images are decoded directly. Every page's pixel count is checked against the
limit *before* decoding, so a decompression bomb costs nothing. Orientation is decided in
identify, from the matched transform: on forms it is more reliable than text-based OSD.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from typing import Literal

import cv2
import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from pipeline.config import LimitsConfig, NormalizeConfig
from pipeline.errors import CorruptFile, EncryptedPdf, TooLarge
from pipeline.imaging import is_blank
from pipeline.records import Document, Gray, Page, frozen_image

# Long side of the usual page sizes (A4 11.69 in, Letter 11 in), for images with no dpi.
_TYPICAL_LONG_SIDE_IN = 11.4


Source = Literal["rendered", "embedded", "raster"]


def normalize(doc: Document, cfg: NormalizeConfig, limits: LimitsConfig) -> list[Page]:
    """Every page of ``doc``, in order, at ``cfg.dpi``, with blank pages marked."""
    if doc.kind == "pdf":
        rasters = _pdf_pages(doc, cfg.dpi, limits)
    else:
        rasters = _image_pages(doc, cfg.dpi, limits)
    pages = []
    for number, (img, source) in enumerate(rasters, start=1):
        pages.append(
            Page(
                number=number,
                image=frozen_image(img),
                dpi=cfg.dpi,
                blank=is_blank(img, cfg.blank_ink_ratio),
                source=source,
            )
        )
    return pages


def _to_dpi(img: Gray, from_dpi: float, to_dpi: float) -> Gray:
    if abs(from_dpi - to_dpi) / to_dpi < 0.03:
        return img
    f = to_dpi / from_dpi
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC
    return cv2.resize(img, None, fx=f, fy=f, interpolation=interp)


def _check_pixels(doc: Document, number: int, w: int, h: int, limits: LimitsConfig) -> None:
    if w * h > limits.max_pixels:
        raise TooLarge(
            f"page {number} is {w}x{h} pixels, over the limit of {limits.max_pixels}"
            " (possible decompression bomb)",
            path=doc.path,
        )


def _pdf_pages(doc: Document, dpi: int, limits: LimitsConfig) -> Iterator[tuple[Gray, Source]]:
    try:
        pdf = pdfium.PdfDocument(doc.data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise EncryptedPdf("the PDF is encrypted with a password", path=doc.path) from None
        raise CorruptFile(f"the PDF cannot be read ({exc})", path=doc.path) from None
    try:
        n = len(pdf)
        if n == 0:
            raise CorruptFile("the PDF has no pages", path=doc.path)
        if n > limits.max_pages:
            raise TooLarge(f"{n} pages is over the limit of {limits.max_pages}", path=doc.path)
        for i in range(n):
            page = pdf[i]
            try:
                yield _pdf_page(doc, page, i + 1, dpi, limits)
            finally:
                page.close()
    finally:
        pdf.close()


def _pdf_page(
    doc: Document, page: pdfium.PdfPage, number: int, dpi: int, limits: LimitsConfig
) -> tuple[Gray, Source]:
    w_pt, h_pt = page.get_size()
    embedded = _embedded_scan(doc, page, number, dpi, limits)
    if embedded is not None:
        return embedded, "embedded"
    scale = dpi / 72.0
    _check_pixels(doc, number, round(w_pt * scale), round(h_pt * scale), limits)
    try:
        bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
    except pdfium.PdfiumError as exc:
        raise CorruptFile(f"page {number} cannot be rendered ({exc})", path=doc.path) from None
    arr = _as_gray(bitmap.to_numpy())
    return arr, "rendered"


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
    _check_pixels(doc, number, px_w, px_h, limits)
    try:
        arr = _as_gray(img.get_bitmap(render=False).to_numpy())
    except pdfium.PdfiumError:
        return None
    native_dpi = px_w / ((right - left) / 72.0)
    return _to_dpi(arr, native_dpi, dpi)


def _as_gray(arr: np.ndarray) -> Gray:
    if arr.ndim == 2:
        return np.ascontiguousarray(arr)
    if arr.shape[2] == 1:
        return np.ascontiguousarray(arr[:, :, 0])
    if arr.shape[2] == 4:
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(arr, cv2.COLOR_BGR2GRAY)


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
    except (OSError, ValueError) as exc:
        raise CorruptFile(f"the image cannot be read ({exc})", path=doc.path) from None
    n = getattr(im, "n_frames", 1)
    if n > limits.max_pages:
        raise TooLarge(f"{n} pages is over the limit of {limits.max_pages}", path=doc.path)
    for i in range(n):
        try:
            im.seek(i)
        except (OSError, EOFError) as exc:
            raise CorruptFile(f"page {i + 1} cannot be read ({exc})", path=doc.path) from None
        w, h = im.size
        _check_pixels(doc, i + 1, w, h, limits)
        native = _image_dpi(im)
        if doc.kind in ("png", "jpeg"):
            # OpenCV decodes these faster than Pillow and straight to grayscale.
            arr = cv2.imdecode(np.frombuffer(doc.data, np.uint8), cv2.IMREAD_GRAYSCALE)
            if arr is None:
                raise CorruptFile("the image data cannot be decoded", path=doc.path)
        else:
            try:
                frame = im.convert("L")
            except (OSError, ValueError) as exc:
                raise CorruptFile(
                    f"page {i + 1} cannot be decoded ({exc})", path=doc.path
                ) from None
            arr = np.asarray(frame, dtype=np.uint8).copy()
        if native is None:
            native = max(arr.shape) / _TYPICAL_LONG_SIDE_IN
        yield _to_dpi(arr, native, dpi), "raster"


def _image_dpi(im: Image.Image) -> float | None:
    info = im.info.get("dpi")
    if not info:
        return None
    try:
        x = float(info[0])
    except (TypeError, ValueError, IndexError):
        return None
    return x if 50 <= x <= 2400 else None
