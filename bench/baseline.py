"""The approach of the common tutorials, for comparison in the same run.

ORB with 5000 features on the full-resolution page and reference, brute-force matches
sorted by distance with the best 20 % kept, a RANSAC homography, the whole page warped
onto the reference, then pytesseract called on every field crop (a new tesseract process
per field). Checkboxes by mean darkness. It is told the right template: tutorials do not
identify forms, so this only flatters it.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytesseract

from pipeline.records import Gray, Page
from pipeline.rules import check_type
from pipeline.templates.load import Template


class Baseline:
    def __init__(self, tessdata: str, dpi: int = 300):
        self.orb = cv2.ORB_create(5000)
        self.bf = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
        self.tessdata = tessdata
        self.dpi = dpi
        self._ref_feats: dict[int, Any] = {}

    def _features(self, key: int, img: Gray) -> Any:
        if key not in self._ref_feats:
            self._ref_feats[key] = self.orb.detectAndCompute(img, None)
        return self._ref_feats[key]

    def read(self, pages: list[Page], template: Template) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for number, page in enumerate(pages[: len(template.references)], start=1):
            ref = template.references[number - 1]
            kp1, d1 = self.orb.detectAndCompute(page.image, None)
            kp2, d2 = self._features(id(ref), ref)
            if d1 is None or d2 is None:
                continue
            matches = sorted(self.bf.match(d1, d2), key=lambda m: m.distance)
            matches = matches[: max(4, int(len(matches) * 0.2))]
            src = np.float32([kp1[m.queryIdx].pt for m in matches])
            dst = np.float32([kp2[m.trainIdx].pt for m in matches])
            h, _ = cv2.findHomography(src, dst, cv2.RANSAC)
            if h is None:
                continue
            aligned = cv2.warpPerspective(page.image, h, (ref.shape[1], ref.shape[0]))
            s = template.scale()
            for f in template.spec.page_fields(number):
                values[f.name] = self._field(aligned, f, s)
        return values

    def _crop(self, img: Gray, box: tuple[float, float, float, float], s: float) -> Gray:
        x, y, w, h = (round(v * s) for v in box)
        return img[max(y, 0) : y + h, max(x, 0) : x + w]

    def _field(self, aligned: Gray, f: Any, s: float) -> Any:
        if f.type in ("checkbox", "signature"):
            crop = self._crop(aligned, f.box, s)
            return bool(crop.size and crop.mean() < 225)
        if f.type == "choice":
            darkness = [self._crop(aligned, o.box, s).mean() for o in f.options]
            return f.options[int(np.argmin(darkness))].value if min(darkness) < 225 else None
        crop = self._crop(aligned, f.box, s)
        if crop.size == 0:
            return None
        lang = "eng" if f.type not in ("text",) else "swe"
        text = pytesseract.image_to_string(
            crop, lang=lang, config=f"--psm 7 --tessdata-dir {self.tessdata}"
        )
        return check_type(f.type, text.strip()).value
