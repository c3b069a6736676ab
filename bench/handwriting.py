"""Benchmark: digits written by hand in comb boxes, beside the same forms typed.

    .venv/bin/python bench/handwriting.py [--count 40] [--levels office,fax] [--out DIR]

One form of the generator's kind with four comb fields (a personnummer of 12 cells, a
postnummer of 5, a customer number of 6, a telephone number of 10) and a typed name, each
instance filled twice: by hand (MNIST's test digits, never trained on, through
``samplegen.hand.Pen``) and typed, then scanned at each level and read by the real
pipeline. Prints per level: digits right per character, fields exact, fields straight
through, wrong among those let through (the figure that must stay at 0 for
personnummer), how many fields were taken for handwriting, and seconds per page for the
handwritten and the typed scans in the same run. Not run by CI.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.compose import open_context  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.run import process_file  # noqa: E402
from pipeline.samplegen import values as V  # noqa: E402
from pipeline.samplegen.build import _save, g4_tiff, scanned_pdf, write_template  # noqa: E402
from pipeline.samplegen.degrade import degrade  # noqa: E402
from pipeline.samplegen.forms import ORG, FormDef, PageBuilder  # noqa: E402
from pipeline.samplegen.hand import Pen  # noqa: E402
from pipeline.samplegen.render import filled_pdf, rasterize  # noqa: E402

COMBS = {  # field -> (type, cells, label)
    "personnummer": ("personnummer", 12, "Personnummer (12 siffror)"),
    "postnummer": ("postnummer", 5, "Postnummer"),
    "kundnummer": ("number", 6, "Kundnummer"),
    "telefon": ("phone", 10, "Telefon"),
}


def hand_form() -> FormDef:
    b = PageBuilder()
    b.header(ORG, "Anmälan, ifylls för hand", "H 1", 1, 1)
    b.section("1. Sökande")
    b.row(("namn", "text", "Namn", 2))
    b.row(*[(n, t, label, cells, (), cells) for n, (t, cells, label) in COMBS.items()][:2])
    b.row(*[(n, t, label, cells, (), cells) for n, (t, cells, label) in COMBS.items()][2:])
    return FormDef("handskrift", "Anmälan, ifylls för hand", "H 1", 1, (b.page(),))


def fill(rng: random.Random) -> dict[str, str | bool]:
    p = V.person(rng)
    return {
        "namn": f"{p['first']} {p['last']}",
        "personnummer": V.personnummer(rng).replace("-", ""),
        "postnummer": V.postnummer(rng).replace(" ", ""),
        "kundnummer": str(rng.randrange(100000, 1000000)),
        "telefon": "07" + "".join(str(rng.randrange(10)) for _ in range(8)),
    }


def digits(v: object) -> str:
    return re.sub(r"\D", "", str(v or ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--levels", default="office,fax")
    ap.add_argument("--out", type=Path, default=Path("/tmp/blankett-handwriting"))
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    form = hand_form()
    write_template(form, args.out / "templates" / form.id)
    rng = random.Random(args.seed)
    scans: list[tuple[str, str, Path, dict[str, str | bool]]] = []
    for i in range(args.count):
        values = fill(rng)
        for how in ("hand", "typed"):
            pen = Pen(random.Random(rng.randrange(2**32))) if how == "hand" else None
            clean = rasterize(filled_pdf(form, values, rng, hand=pen))[0]
            for level in args.levels.split(","):
                scan, _, dpi = degrade(clean, rng, level)
                path = args.out / level / how / f"{i:03d}.{'tif' if level == 'fax' else 'pdf'}"
                data = g4_tiff([scan], dpi) if level == "fax" else scanned_pdf([scan])
                truth = {"status": "accepted", "template": form.id, "pages": [1], "fields": values}
                _save(path, data, [truth], args.seed)
                scans.append((level, how, path, values))
    cfg = load_config(ROOT / "config.yaml").model_copy(
        update={
            "templates_dir": args.out / "templates",
            "data_dir": args.out / "data",
            "database_url": f"sqlite:///{args.out / 'data' / 'bench.sqlite3'}",
        }
    )
    n: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    seconds: dict[tuple[str, str], list[float]] = defaultdict(list)
    with open_context(cfg) as ctx:
        for level, how, path, values in scans:
            t0 = time.perf_counter()
            records = process_file(path, ctx)
            seconds[(level, how)].append(time.perf_counter() - t0)
            fields = {f.name: f for r in records for f in r.fields}
            for name, (ftype, _cells, _) in COMBS.items():
                c = n[(level, how, ftype)]
                f = fields.get(name)
                truth, got = digits(values[name]), digits(f.value if f else "")
                c["fields"] += 1
                c["chars"] += len(truth)
                c["chars right"] += sum(a == b for a, b in zip(truth, got, strict=False))
                c["exact"] += truth == got
                c["by hand"] += bool(f and f.evidence and f.evidence.hand)
                if f is not None and not f.needs_review:
                    c["through"] += 1
                    c["wrong through"] += truth != got
    print(f"# {args.count} forms per level, filled by hand and typed; seed {args.seed}\n")
    print(
        "| level | written | field | fields | digits right | exact | read by hand "
        "| straight through | wrong among through |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for level in args.levels.split(","):
        for how in ("hand", "typed"):
            for ftype in [t for t, _, _ in COMBS.values()]:
                c = n[(level, how, ftype)]
                total = c["fields"]
                through = c["through"]
                print(
                    f"| {level} | {how} | {ftype} | {total} "
                    f"| {100 * c['chars right'] / max(1, c['chars']):.2f} % "
                    f"| {100 * c['exact'] / total:.1f} % "
                    f"| {c['by hand']} | {100 * through / total:.1f} % "
                    f"| {c['wrong through']} of {through} |"
                )
    print("\n| level | seconds per page, by hand | typed | ratio |\n|---|---|---|---|")
    for level in args.levels.split(","):
        h = sorted(seconds[(level, "hand")])[len(seconds[(level, "hand")]) // 2]
        t = sorted(seconds[(level, "typed")])[len(seconds[(level, "typed")]) // 2]
        print(f"| {level} | {h:.3f} | {t:.3f} | {h / t:.2f}x |")


if __name__ == "__main__":
    main()
