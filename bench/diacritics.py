"""Do å, ä and ö survive the text cleanup? The diacritics set (``samplegen.diacritics``:
Swedish names and places in sans, serif and monospace at 7-12 pt, office and fax scans)
read two ways in the same run: the field cleanup the product uses, and the baseline of
the same engine on the raw crop. Prints per scan level the words read exactly and the
marks lost (å read as a, ...), and the ratio cleanup / baseline.

    python bench/diacritics.py [--levels office,fax] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.compose import ENGINES
from pipeline.config import Config
from pipeline.imaging import pad_white
from pipeline.ports import OcrHints
from pipeline.samplegen import diacritics as d
from pipeline.stages.extract import ExtractContext, read_text_crop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="office,fax")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    cfg = Config()
    engine = ENGINES[cfg.ocr.kind](cfg.ocr, d.DPI)
    ctx = ExtractContext(engine, cfg.ocr, None)
    hints = OcrHints(lang=cfg.ocr.text_lang, whitelist=None, single_line=True)
    tally: Counter[tuple[str, str]] = Counter()
    for s in d.samples(d.WORDS, d.FONTS, d.SIZES, args.levels.split(","), args.seed):
        marks = sum(ch in "åäöÅÄÖ" for ch in s.word)
        raw = engine.read(pad_white(s.crop, 12), hints).text.strip()
        clean = read_text_crop(s.crop, hints, ctx, d.MARGIN_PX).text.strip()
        tally[(s.level, "words")] += 1
        tally[(s.level, "marks")] += marks
        for how, text in (("baseline", raw), ("cleanup", clean)):
            tally[(s.level, f"{how} exact")] += text == s.word
            tally[(s.level, f"{how} lost")] += d.lost_marks(s.word, text)
    engine.close()
    print("level   words  marks | exact: baseline cleanup ratio | marks lost: baseline cleanup")
    for level in args.levels.split(","):
        t = {k[1]: v for k, v in tally.items() if k[0] == level}
        ratio = t["cleanup exact"] / max(t["baseline exact"], 1)
        print(
            f"{level:<7} {t['words']:>5}  {t['marks']:>5} | {t['baseline exact']:>15} "
            f"{t['cleanup exact']:>7} {ratio:>5.3f} | {t['baseline lost']:>19} "
            f"{t['cleanup lost']:>7}"
        )


if __name__ == "__main__":
    main()
