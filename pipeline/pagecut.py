"""Cutting a record's own pages out of a scan file, losslessly, for its delivery.

One scan file may hold several people's forms; each record is delivered with only its
own pages, and the whole file stays in our own store. PDF pages are copied as objects
with pypdf (content streams and images are not re-encoded); TIFF frames are written
again with Pillow in a lossless compression (the pixels are the scanner's); a PNG or JPEG
is one page, so it is its own cut. When a record has every page of its file, the file
itself is used, bit-identical.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from pipeline.errors import StoreError
from pipeline.fsutil import OWN_NAME_MAX, fit_name

if TYPE_CHECKING:
    from PIL import Image
    from pypdf import PageObject

# TIFF compressions Pillow writes losslessly; anything else (JPEG-in-TIFF) is written
# with Deflate, which keeps the decoded pixels exactly.
_LOSSLESS_TIFF = {"raw", "tiff_ccitt", "group3", "group4", "tiff_lzw", "tiff_adobe_deflate"}


def cut_name(name: str, pages: Sequence[int]) -> str:
    """The delivered file's name: the scan's name with the pages it holds
    (``batch.p1-2.pdf``), shortened if need be but never losing the pages."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    run = list(pages) == list(range(pages[0], pages[0] + len(pages)))
    span = f"{pages[0]}-{pages[-1]}" if run and len(pages) > 1 else "_".join(map(str, pages))
    tail = f".p{span}" + (f".{suffix}" if suffix else "")
    return fit_name(stem, OWN_NAME_MAX - len(tail.encode())) + tail


def own_pages(src: Path, kind: str | None, pages: Sequence[int], dst: Path) -> Path:
    """``src`` itself when ``pages`` (1-based) are all its pages in order, otherwise a new
    file ``dst`` holding just those pages, in that order. Raises StoreError when ``src``
    cannot be cut."""
    try:
        if kind == "pdf":
            return _pdf(src, pages, dst)
        if kind == "tiff":
            return _tiff(src, pages, dst)
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot cut pages {list(pages)} from {src.name}: {exc}") from None
    if list(pages) not in ([], [1]):
        raise StoreError(f"{src.name} has one page; pages {list(pages)} were asked for")
    return src


def _pdf(src: Path, pages: Sequence[int], dst: Path) -> Path:
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(src)
        if list(pages) == list(range(1, len(reader.pages) + 1)):
            return src
        writer = PdfWriter()
        for n in pages:
            if not 1 <= n <= len(reader.pages):
                raise ValueError(f"the file has {len(reader.pages)} pages")
            page = reader.pages[n - 1]
            _only_its_own(page)
            writer.add_page(page)
        _write(dst, writer.write)
    except (PyPdfError, KeyError, TypeError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None
    return dst


def _only_its_own(page: PageObject) -> None:
    """Cut the references by which copying ``page`` would copy other pages' content:
    images in a /Resources dictionary the pages share (a scanner's PDF may list every
    page's image on each page), links and other annotations that point at other pages."""
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject

    contents = page.get_contents()
    used = (
        {ops[0] for ops, op in contents.operations if op == b"Do" and ops}
        if contents is not None
        else set()
    )
    res = page.get("/Resources")
    if res is not None:
        res = res.get_object()
        mine = DictionaryObject({k: res.raw_get(k) for k in res})
        images = res.get("/XObject")
        if images is not None:
            images = images.get_object()
            mine[NameObject("/XObject")] = DictionaryObject(
                {k: images.raw_get(k) for k in images if k in used}
            )
        page[NameObject("/Resources")] = mine
    kept = ArrayObject()
    for ref in page.get("/Annots") or []:
        annot = ref.get_object()
        # A widget of a field of its own keeps a filled-in value; anything that names
        # another page (links, actions, fields with kids elsewhere) goes.
        if annot.get("/Subtype") == "/Widget" and "/Parent" not in annot:
            for key in ("/P", "/A", "/AA"):
                annot.pop(key, None)
            kept.append(ref)
    page[NameObject("/Annots")] = kept
    page.pop("/B", None)  # article beads thread through other pages


def _tiff(src: Path, pages: Sequence[int], dst: Path) -> Path:
    from PIL import Image, TiffImagePlugin

    with Image.open(src) as im:
        count = getattr(im, "n_frames", 1)
        if list(pages) == list(range(1, count + 1)):
            return src
        if not all(1 <= n <= count for n in pages):
            raise ValueError(f"the file has {count} pages")
        with dst.open("x+b") as f:
            # One frame at a time, each with its own compression and resolution.
            with TiffImagePlugin.AppendingTiffWriter(f) as tf:
                for n in pages:
                    im.seek(n - 1)
                    im.load()
                    tf_args = _tiff_args(im)
                    im.save(tf, format="TIFF", **tf_args)
                    tf.newFrame()
            f.flush()
            os.fsync(f.fileno())
    return dst


def _tiff_args(frame: Image.Image) -> dict[str, object]:
    compression = frame.info.get("compression", "raw")
    if compression not in _LOSSLESS_TIFF or (
        compression.startswith(("group", "tiff_cc")) and frame.mode != "1"
    ):
        compression = "tiff_adobe_deflate"
    args: dict[str, object] = {"compression": compression}
    for key in ("dpi", "icc_profile"):
        if frame.info.get(key):
            args[key] = frame.info[key]
    return args


def _write(dst: Path, write: Callable[[BinaryIO], object]) -> None:
    with dst.open("xb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
