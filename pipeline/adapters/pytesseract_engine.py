"""OCR engine on pytesseract: portable, one tesseract process per field (slow)."""

from __future__ import annotations

import shlex
from pathlib import Path

from pipeline.errors import EngineError
from pipeline.ports import OcrHints, OcrResult
from pipeline.records import Gray


class PytesseractEngine:
    name = "pytesseract"

    def __init__(self, tessdata: Path, dpi: int):
        import pytesseract

        self._pt = pytesseract
        self._tessdata = tessdata
        self._dpi = dpi

    def read(self, image: Gray, hints: OcrHints) -> OcrResult:
        psm = (13 if hints.single_line else 4) if hints.second else (7 if hints.single_line else 6)
        config = f"--oem 1 --psm {psm} --dpi {self._dpi} --tessdata-dir {self._tessdata}"
        config += " -c tessedit_do_invert=0"  # as the tesserocr adapter: no inverted retry
        if hints.whitelist:
            # pytesseract splits the config like a shell; the list holds a space.
            config += " -c " + shlex.quote(f"tessedit_char_whitelist={hints.whitelist}")
        try:
            data = self._pt.image_to_data(
                image, lang=hints.lang, config=config, output_type=self._pt.Output.DICT
            )
        except (self._pt.TesseractError, self._pt.TesseractNotFoundError) as exc:
            raise EngineError(f"tesseract failed: {exc}") from None
        words = [w for w in data["text"] if w.strip()]
        confs = [
            float(c)
            for w, c in zip(data["text"], data["conf"], strict=True)
            if w.strip() and float(c) >= 0
        ]
        # Word confidences only: the weakest word stands in for the weakest glyph.
        if not confs:
            return OcrResult(text=" ".join(words), confidence=0.0, mean_confidence=0.0)
        return OcrResult(
            text=" ".join(words),
            confidence=min(confs) / 100.0,
            mean_confidence=sum(confs) / len(confs) / 100.0,
        )

    def close(self) -> None:
        pass
