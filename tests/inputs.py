"""Makers of good and bad input files, shared by the input and service tests."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfgen.canvas import Canvas


def page_image(w: int = 2480, h: int = 3508) -> np.ndarray:
    img = np.full((h, w), 250, np.uint8)
    cv2.putText(img, "Exempelby kommun", (200, 400), cv2.FONT_HERSHEY_SIMPLEX, 4, 0, 8)
    cv2.rectangle(img, (200, 600), (2200, 800), 0, 4)
    return img


def png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims w x h pixels: header, one tiny data chunk, end."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def encrypted_pdf() -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf, encrypt=StandardEncryption("secret", ownerPassword="owner"))
    c.drawString(72, 720, "hemligt")
    c.showPage()
    c.save()
    return buf.getvalue()


def pdf_pages(n: int) -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf)
    for i in range(n):
        c.drawString(72, 720, f"page {i}")
        c.showPage()
    c.save()
    return buf.getvalue()
