"""extract: read every field region of an aligned page.

Each field is cut from the page with the form's own print dropped out
(``fieldcrop``), then read by its type's reader: text by the OCR engine with the
template's hints (``read_text``), marks, options and signatures by the ink left in the
box, barcodes by decoding (``read_marks``). The original crop is saved for the operator.
"""

from __future__ import annotations

import cv2

from pipeline.config import OcrConfig
from pipeline.fieldtypes import FIELD_TYPES
from pipeline.ports import OcrHints
from pipeline.records import Alignment, FieldReading, Page
from pipeline.stages.fieldcrop import Region, cut
from pipeline.stages.read_marks import read_barcode, read_choice, read_mark, read_signature
from pipeline.stages.read_text import ExtractContext, read_text, read_text_crop
from pipeline.templates.load import Template
from pipeline.templates.schema import FieldSpec

__all__ = ["ExtractContext", "extract", "hints_for", "read_text_crop"]


def hints_for(spec: FieldSpec, template: Template, ocr: OcrConfig) -> OcrHints:
    """The field's own OCR settings, else its type's defaults (pipeline.fieldtypes)."""
    kind = FIELD_TYPES[spec.type]
    if spec.ocr.lang:
        lang = spec.ocr.lang
    elif kind.lang == "numeric":
        lang = ocr.numeric_lang
    else:
        lang = template.spec.language or ocr.text_lang
    whitelist = spec.ocr.whitelist if spec.ocr.whitelist is not None else kind.whitelist
    return OcrHints(lang=lang, whitelist=whitelist, single_line=spec.ocr.single_line)


def extract(
    page: Page, alignment: Alignment, template: Template, template_page: int, ctx: ExtractContext
) -> list[FieldReading]:
    reference = template.references[template_page - 1]
    scale = template.scale()
    quality = alignment.quality
    readings = []
    for spec in template.spec.page_fields(template_page):
        region = Region.of(spec.region, scale)
        piece = cut(page.image, reference, alignment.homography, region)
        reader = FIELD_TYPES[spec.type].reader
        if reader == "choice":
            reading = read_choice(spec, piece, region, scale, quality)
        elif reader == "mark":
            reading = read_mark(spec, piece, region, quality)
        elif reader == "signature":
            reading = read_signature(spec, piece, region, quality)
        elif reader == "barcode":
            reading = read_barcode(spec, piece)
        else:
            hints = hints_for(spec, template, ctx.ocr)
            reading = read_text(spec, piece, region, hints, ctx, quality)
        if ctx.crop_dir is not None:
            ctx.crop_dir.mkdir(parents=True, exist_ok=True)
            # JPEG: ten times faster to write than PNG, and the scan was lossy anyway.
            path = ctx.crop_dir / f"p{template_page}-{spec.name}.jpg"
            cv2.imwrite(str(path), piece.crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
            reading = FieldReading(**{**reading.__dict__, "crop": str(path)})
        readings.append(reading)
    return readings
