"""OCR engine on RapidOCR: PaddleOCR's PP-OCRv6 small recogniser (ONNX, Apache-2.0),
shipped inside the rapidocr wheel and run with onnxruntime in this process.

Tesseract is trained on print; PP-OCR's recogniser has seen handwriting too, so it is the
second reader of a field written by hand (``stages.read_hand``). Only recognition runs:
a field is already one line. The model is named by its path inside the installed
package, so nothing is ever looked up or downloaded. The field's whitelist filters the
result (the recogniser takes no hints).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from pipeline.errors import EngineError
from pipeline.ports import OcrHints, OcrResult
from pipeline.records import Gray

MODEL = "models/PP-OCRv6_rec_small.onnx"


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self) -> None:
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:  # pragma: no cover - a packaging fault
            raise EngineError(f"rapidocr is not installed ({exc})") from None
        model = resources.files("rapidocr").joinpath(MODEL)
        if not model.is_file():
            raise EngineError(f"rapidocr ships no {MODEL}: reinstall rapidocr>=3.10")
        params: dict[str, Any] = {
            "Global.use_det": False,
            "Global.use_cls": False,
            # Its info log would name every call; values never go to a log.
            "Global.log_level": "error",
            "Rec.model_path": str(model),
            # One thread: parallelism comes from worker processes.
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self._ocr = RapidOCR(params=params)

    def read(self, image: Gray, hints: OcrHints) -> OcrResult:
        out: Any = self._ocr(image, use_det=False, use_cls=False, use_rec=True)
        texts, scores = tuple(out.txts or ()), tuple(out.scores or ())
        text = " ".join(t.strip() for t in texts).strip()
        if hints.whitelist:
            text = "".join(c for c in text if c in hints.whitelist or c == " ")
        score = float(min(scores)) if scores and text else 0.0
        return OcrResult(text=text, confidence=score, mean_confidence=score)

    def close(self) -> None:
        pass  # the session goes with the process
