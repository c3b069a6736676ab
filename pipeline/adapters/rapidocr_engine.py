"""OCR engine on RapidOCR: PaddleOCR's PP-OCRv6 small recogniser (ONNX, Apache-2.0),
shipped inside the rapidocr wheel and run with onnxruntime in this process.

Tesseract is trained on print; PP-OCR's recogniser has seen handwriting too, so it is the
second reader of a field written by hand (``stages.read_hand``). Only recognition runs:
a field is already one line (multi-line boxes are not given to it). The model is named
by its path inside the installed package, so nothing is ever looked up or downloaded.
The recogniser takes no hints: its look-alikes of the field's characters are folded into
them (O to 0 in a digits field, a fullwidth comma to a comma), and anything else outside
the whitelist is left in, so that it shows as a disagreement rather than vanishing into
an agreement.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from pipeline.errors import EngineError
from pipeline.ports import OcrHints, OcrResult
from pipeline.records import Gray

MODEL = "models/PP-OCRv6_rec_small.onnx"
# Characters the recogniser (trained on Chinese and Latin text) writes for ours.
WIDE = str.maketrans({"。": ".", "，": ",", "：": ":", "；": ";", "－": "-", "＋": "+", "　": " "})
LOOKALIKES = {"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1", "−": "-", "–": "-"}


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
            # Its page preprocessing squeezes a very wide line to no height at all.
            "Global.use_preprocess_img": False,
            "Rec.model_path": str(model),
            # One thread: parallelism comes from worker processes.
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self._ocr = RapidOCR(params=params)

    def read(self, image: Gray, hints: OcrHints) -> OcrResult:
        try:
            out: Any = self._ocr(image, use_det=False, use_cls=False, use_rec=True)
        except Exception:  # rapidocr's own errors on odd shapes: no second reading
            return OcrResult(text="", confidence=0.0, mean_confidence=0.0)
        texts, scores = tuple(out.txts or ()), tuple(out.scores or ())
        text = " ".join(t.strip() for t in texts).strip().translate(WIDE)
        if hints.whitelist:
            allowed = hints.whitelist
            text = "".join(
                LOOKALIKES.get(c, c) if c not in allowed and LOOKALIKES.get(c, c) in allowed else c
                for c in text
            )
        score = float(min(scores)) if scores and text else 0.0
        return OcrResult(text=text, confidence=score, mean_confidence=score)

    def close(self) -> None:
        pass  # the session goes with the process
