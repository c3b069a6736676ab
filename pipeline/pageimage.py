"""One page of a stored original as a small JPEG, for the review UI's page images.

Only the page asked for is made, straight at the size asked for: a PDF page is rendered
by PDFium at the scale that gives that width, a TIFF frame or an image is decoded alone
(JPEG in draft mode, at the nearest smaller scale) and shrunk. Before, every thumbnail
normalized the whole document at 300 dpi (a 300-page PDF: 21 s and 3.9 GB for one).
The pixel limit applies before anything is decoded, as in the pipeline.

The web server answers requests on many threads: rendering is serialized by one lock
(PDFium is not thread-safe, and one page at a time also bounds the memory thumbnails
take), and finished images are kept in a small LRU cache keyed by the stored file, its
size and mtime, the page and the width. Originals are content-addressed and never
change, so a cached image is never stale; the cache is bounded by entries and bytes.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
from PIL import Image

from pipeline.config import Config
from pipeline.errors import CorruptFile, FileNotFound, TooLarge, UnsupportedFormat
from pipeline.pdfrender import PDFIUM
from pipeline.records import Gray
from pipeline.stages.ingest import sniff
from pipeline.stages.normalize import bitmap_gray, check_pixels, native_dpi, open_pdf

MIN_WIDTH, MAX_WIDTH = 100, 2000
JPEG_QUALITY = 80
CACHE_ENTRIES = 256
CACHE_BYTES = 32 * 1024 * 1024  # about 300 thumbnails of 900 px


class NoSuchPage(LookupError):
    """The document has fewer pages than the one asked for."""


class PageCache:
    """A least-recently-used map of JPEG bytes, bounded by entries and by total bytes."""

    def __init__(self, entries: int, max_bytes: int):
        self._entries = entries
        self._max_bytes = max_bytes
        self._items: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: tuple[object, ...], data: bytes) -> None:
        if len(data) > self._max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self._bytes -= len(old) if old is not None else 0
            self._items[key] = data
            self._bytes += len(data)
            while len(self._items) > self._entries or self._bytes > self._max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


# Made on first use (nothing is built at import time); the lock guards only that.
_cache: PageCache | None = None
_cache_made = threading.Lock()
# One page is made at a time in this process, whatever the format.
_render = threading.Lock()


def cache() -> PageCache:
    global _cache
    with _cache_made:
        if _cache is None:
            _cache = PageCache(CACHE_ENTRIES, CACHE_BYTES)
        return _cache


def page_jpeg(path: Path, page: int, width: int, cfg: Config) -> bytes:
    """Page ``page`` (1-based) of the file at ``path`` as a grayscale JPEG about ``width``
    px wide (clamped to 100..2000, never wider than the page at the working dpi). Raises
    ``InputError`` for a file that cannot be read or is over a limit, ``NoSuchPage`` past
    its end."""
    width = max(MIN_WIDTH, min(width, MAX_WIDTH))
    try:
        st = path.stat()
    except FileNotFoundError:
        raise FileNotFound("the stored original is missing", path=path) from None
    key = (str(path), st.st_size, st.st_mtime_ns, page, width)
    hit = cache().get(key)
    if hit is not None:
        return hit
    with _render:
        hit = cache().get(key)  # made by another request while this one waited
        if hit is not None:
            return hit
        if st.st_size > cfg.limits.max_file_bytes:
            raise TooLarge(
                f"{st.st_size} bytes is over the limit of {cfg.limits.max_file_bytes}", path=path
            )
        img = _page_gray(path, page, width, cfg)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise CorruptFile(f"page {page} cannot be encoded", path=path)
    data = bytes(buf.tobytes())
    cache().put(key, data)
    return data


def _page_gray(path: Path, page: int, width: int, cfg: Config) -> Gray:
    with path.open("rb") as f:
        kind = sniff(f.read(1024))
    if kind == "pdf":
        return _pdf_page(path, page, width, cfg)
    if kind is None:
        raise UnsupportedFormat("not a PDF, TIFF, PNG or JPEG file", path=path)
    return _image_page(path, page, width, cfg)


def _pdf_page(path: Path, page: int, width: int, cfg: Config) -> Gray:
    with PDFIUM:
        pdf = open_pdf(path, path)  # PDFium reads what it needs of the file, not all of it
        try:
            n = len(pdf)
            if not 1 <= page <= n:
                raise NoSuchPage(f"the document has {n} pages")
            p = pdf[page - 1]
            try:
                w_pt, h_pt = p.get_size()
                # No wider than the page at the working dpi, as the pipeline sees it.
                scale = min(width / w_pt, cfg.normalize.dpi / 72.0)
                check_pixels(path, page, round(w_pt * scale), round(h_pt * scale), cfg.limits)
                try:
                    bitmap = p.render(scale=scale, grayscale=True, may_draw_forms=True)
                except pdfium.PdfiumError as exc:
                    raise CorruptFile(
                        f"page {page} cannot be rendered ({exc})", path=path
                    ) from None
                try:
                    return bitmap_gray(bitmap)
                finally:
                    bitmap.close()
            finally:
                p.close()
        finally:
            pdf.close()


def _image_page(path: Path, page: int, width: int, cfg: Config) -> Gray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(path) as im:
                n = getattr(im, "n_frames", 1)
                if not 1 <= page <= n:
                    raise NoSuchPage(f"the document has {n} pages")
                im.seek(page - 1)
                w, h = im.size
                check_pixels(path, page, w, h, cfg.limits)
                at_dpi = w * cfg.normalize.dpi / native_dpi(im)
                out_w = max(1, round(min(width, at_dpi)))
                out_h = max(1, round(h * out_w / w))
                check_pixels(path, page, out_w, out_h, cfg.limits)
                if im.format == "JPEG":
                    im.draft("L", (out_w, out_h))  # decode at 1/2, 1/4 or 1/8 scale
                arr = np.asarray(im.convert("L"), dtype=np.uint8)
    except Image.DecompressionBombError:
        raise TooLarge(
            "the image is far over the pixel limit (decompression bomb)", path=path
        ) from None
    except (OSError, ValueError, EOFError) as exc:
        raise CorruptFile(f"page {page} cannot be read ({exc})", path=path) from None
    if arr.shape[1] == out_w:
        return np.ascontiguousarray(arr)
    interp = cv2.INTER_AREA if arr.shape[1] > out_w else cv2.INTER_CUBIC
    return cv2.resize(arr, (out_w, out_h), interpolation=interp)
