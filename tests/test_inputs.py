"""ingest + normalize: every format read, every bad input refused with a reason code."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from reportlab.pdfgen.canvas import Canvas

from pipeline.config import LimitsConfig, NormalizeConfig
from pipeline.errors import InputError
from pipeline.samplegen.build import g4_tiff, scanned_pdf
from pipeline.stages.ingest import ingest
from pipeline.stages.normalize import normalize
from tests.inputs import encrypted_pdf, page_image, pdf_pages, png_header_only

LIMITS = LimitsConfig()
NORM = NormalizeConfig()


def run(path: Path, limits: LimitsConfig = LIMITS):
    return normalize(ingest(path, limits), NORM, limits)


def code_of(path: Path, limits: LimitsConfig = LIMITS) -> str:
    with pytest.raises(InputError) as err:
        run(path, limits)
    assert str(path) in str(err.value)  # every message names the file
    return err.value.code


def test_scanned_pdf_uses_the_embedded_image(tmp_path: Path):
    p = tmp_path / "scan.pdf"
    p.write_bytes(scanned_pdf([page_image(), page_image()]))
    pages = run(p)
    assert [pg.number for pg in pages] == [1, 2]
    assert all(pg.source == "embedded" for pg in pages)
    assert abs(pages[0].image.shape[1] - 2480) <= 2
    assert not pages[0].image.flags.writeable


def test_born_digital_pdf_is_rendered(tmp_path: Path):
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(595.28, 841.89))
    c.drawString(72, 720, "Ansökan om bygglov")
    c.showPage()
    c.save()
    p = tmp_path / "digital.pdf"
    p.write_bytes(buf.getvalue())
    (page,) = run(p)
    assert page.source == "rendered"
    assert abs(page.image.shape[0] - 3508) <= 1 and abs(page.image.shape[1] - 2480) <= 1


def test_multipage_g4_tiff(tmp_path: Path):
    p = tmp_path / "scan.tif"
    p.write_bytes(g4_tiff([page_image(), np.full((3508, 2480), 255, np.uint8)]))
    pages = run(p)
    assert len(pages) == 2
    assert pages[0].image.dtype == np.uint8 and not pages[0].blank
    assert pages[1].blank


def test_image_dpi_is_honoured(tmp_path: Path):
    small = cv2.resize(page_image(), None, fx=0.5, fy=0.5)  # a 150-dpi scan
    buf = io.BytesIO()
    Image.fromarray(small).save(buf, format="PNG", dpi=(150, 150))
    p = tmp_path / "scan.png"
    p.write_bytes(buf.getvalue())
    (page,) = run(p)
    assert abs(page.image.shape[1] - 2480) <= 2


def test_jpeg_without_dpi_is_scaled_by_page_size(tmp_path: Path):
    small = cv2.resize(page_image(), None, fx=0.6, fy=0.6)
    p = tmp_path / "scan.jpg"
    _, data = cv2.imencode(".jpg", small)
    p.write_bytes(data.tobytes())
    (page,) = run(p)
    assert 0.9 < page.image.shape[0] / 3508 < 1.1  # A4-ish long side at 300 dpi


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("empty.pdf", b"", "empty_file"),
        ("notes.pdf", "Hej, detta är ingen blankett.\n".encode(), "unsupported_format"),
        ("word.docx", b"PK\x03\x04" + b"\x00" * 200, "unsupported_format"),
        ("cut.pdf", scanned_pdf([page_image()])[:5000], "truncated_file"),
        ("garbage.pdf", b"%PDF-1.7\n" + b"\x13\x37" * 500 + b"\n%%EOF\n", "corrupt_file"),
        ("locked.pdf", encrypted_pdf(), "encrypted_pdf"),
        ("bomb.png", png_header_only(60_000, 60_000), "too_large"),
        ("big.png", png_header_only(10_000, 9_000), "too_large"),
        ("cut.jpg", cv2.imencode(".jpg", page_image())[1].tobytes()[:20_000], "truncated_file"),
        ("broken.png", png_header_only(2480, 3508), "corrupt_file"),
        ("junk.tif", b"II*\x00" + b"\xff" * 300, "corrupt_file"),
    ],
)
def test_bad_input_gets_a_reason(tmp_path: Path, name: str, content: bytes, code: str):
    p = tmp_path / name
    p.write_bytes(content)
    assert code_of(p) == code
    assert p.read_bytes() == content  # never touched, never lost


def test_page_count_limit(tmp_path: Path):
    p = tmp_path / "many.pdf"
    p.write_bytes(pdf_pages(4))
    assert code_of(p, LimitsConfig(max_pages=3)) == "too_large"


def test_byte_limit_and_missing_file(tmp_path: Path):
    p = tmp_path / "a.pdf"
    p.write_bytes(pdf_pages(1))
    assert code_of(p, LimitsConfig(max_file_bytes=100)) == "too_large"
    assert code_of(tmp_path / "gone.pdf") == "file_not_found"


def test_same_bytes_same_hash(tmp_path: Path):
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    data = pdf_pages(1)
    a.write_bytes(data)
    b.write_bytes(data)
    assert ingest(a, LIMITS).sha256 == ingest(b, LIMITS).sha256
