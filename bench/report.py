"""The benchmark's printed report and results.json, from one run of ``run.py``.

Sections: accuracy per level and form (our own forms and the real ones also summed
apart), the pipeline against the baseline and the floor on the same pages, throughput,
records straight through against residual error as the threshold is swept, the
reliability of confidence, å/ä/ö lost, and the error analysis (``errors.py``).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import curves
import errors
import numpy as np
from rows import FieldRow, RecordRow

from pipeline.config import Config
from pipeline.evaluate import FieldScore, straight_through, summarize

THRESHOLDS = [round(x, 2) for x in np.arange(0.0, 1.0001, 0.02)]
LEVEL_ORDER = ["clean", "office", "fax", "harsh"]


def pct(a: float | None) -> str:
    return "n/a" if a is None else f"{100 * a:.2f}"


def own(fields: list[FieldScore]) -> tuple[float, float]:
    """(share of fields the pipeline let through, share of those that are wrong), by its
    own routing (one threshold or one per field kind, and the issues)."""
    through = [f for f in fields if not f.flagged]
    wrong = sum(not f.exact for f in through)
    return (
        len(through) / len(fields) if fields else 0.0,
        wrong / len(through) if through else 0.0,
    )


def routing(cfg: Config) -> str:
    """How the configured pipeline routes fields, for the column heads."""
    thr = cfg.review.threshold
    if thr is not None:
        return f"threshold {thr}"
    target = getattr(cfg.review, "max_residual_error", "?")
    return f"per-kind thresholds for max residual {target}"


GROUPS = ("generated", "real", "all")  # our own forms together, the real ones, all


def _selects(key: str, form: str, origin: str) -> bool:
    return key == "all" or key in (form, origin)


def accuracy(how: str, levels: list[str], pipe: Any, results: dict[str, Any]) -> None:
    files = pipe["files"].values()
    forms = sorted({v["form"] for v in files})
    recs_by = pipe["record_rows"]
    print("\n## Accuracy (pipeline)\n")
    print(
        "| level | form | pages | identified | text exact % | chars % | checkboxes % | "
        f"fields straight through % ({how}) | residual error % | text residual % | "
        "records straight through % | wrong & unflagged |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for lv in levels:
        for key in [*forms, *GROUPS]:
            sel = [v for v in files if v["level"] == lv and _selects(key, v["form"], v["origin"])]
            if not sel or (key in ("generated", "real") and len({v["form"] for v in sel}) < 2):
                continue  # one form alone is already its own row
            recs = [r for v in sel for r in v["records"]]
            fields: list[FieldScore] = [f for v in sel for f in v["fields"]]
            s = summarize(recs, fields)
            stp, resid = own(fields)
            _, text_resid = own([f for f in fields if f.kind == "text"])
            rr = [r for r in recs_by if r.level == lv and _selects(key, r.form, r.origin)]
            rec_stp = sum(r.accepted for r in rr) / len(rr) if rr else 0.0
            wrong_by_name: dict[str, int] = defaultdict(int)
            for f in fields:
                if not f.exact:
                    wrong_by_name[f.name] += 1
            row = {
                "pages": sum(v["pages"] for v in sel),
                "identified": s.records_right,
                "records": s.records,
                "text_fields": s.text_fields,
                "text_exact": s.text_exact / s.text_fields if s.text_fields else 1.0,
                "chars": s.char_accuracy,
                "marks": s.marks_right / s.marks if s.marks else 1.0,
                "stp": stp,
                "residual": resid,
                "text_residual": text_resid,
                "records_stp": rec_stp,
                "wrong_unflagged": s.wrong_unflagged,
                "worst_fields": sorted(wrong_by_name.items(), key=lambda kv: -kv[1])[:6],
            }
            results["levels"].setdefault(lv, {})[key] = row
            name = f"**{key}**" if key in GROUPS else key
            print(
                f"| {lv} | {name} | {row['pages']} | {s.records_right}/{s.records} | "
                f"{pct(row['text_exact'])} | {pct(row['chars'])} | {pct(row['marks'])} | "
                f"{pct(stp)} | {pct(resid)} | {pct(text_resid)} | {pct(rec_stp)} | "
                f"{s.wrong_unflagged} |"
            )
        lv_fields = [f for v in files if v["level"] == lv for f in v["fields"]]
        results["curves"][lv] = straight_through(lv_fields, THRESHOLDS)


def comparison(pipe: Any, base: Any, floor: Any, subset: Any) -> dict[str, Any]:
    """Pipeline, baseline and floor on the same pages; {} when no page was chosen."""
    sub = [str(p) for _, _, p in subset]
    pages = sum(pipe["files"][p]["pages"] for p in sub)
    if not sub or not pages:
        print("\n(no pages for the baseline and the floor: --baseline-pages 0)")
        return {}
    pipe_t = sum(pipe["files"][p]["seconds"] for p in sub)
    base_t = sum(base[p]["seconds"] for p in sub)
    floor_t = sum(floor[p]["seconds"] for p in sub)
    pf = [f for p in sub for f in pipe["files"][p]["fields"]]
    bf = [f for p in sub for f in base[p]["fields"]]
    pt = [f for f in pf if f.kind == "text"]
    bt = [f for f in bf if f.kind == "text"]
    p_exact = sum(f.exact for f in pt) / len(pt) if pt else 1.0
    b_exact = sum(f.exact for f in bt) / len(bt) if bt else 1.0
    p_stp, p_res = own(pf)
    b_res = sum(not f.exact for f in bf) / len(bf) if bf else 0.0  # it accepts everything
    speed = {
        "pages_compared": pages,
        "pipeline_pages_per_s": pages / pipe_t,
        "baseline_pages_per_s": pages / base_t,
        "floor_pages_per_s": pages / floor_t,
        "speed_ratio": base_t / pipe_t,
        "floor_fraction": floor_t / pipe_t,
        "text_exact_pipeline": p_exact,
        "text_exact_baseline": b_exact,
        "residual_pipeline": p_res,
        "residual_baseline": b_res,
        "stp_pipeline": p_stp,
    }
    print(f"\n## Against the usual approach, the same {pages} pages (all levels)\n")
    print("| | pipeline | baseline | ratio |\n|---|---|---|---|")
    print(
        f"| pages/s (one core) | {speed['pipeline_pages_per_s']:.2f} | "
        f"{speed['baseline_pages_per_s']:.2f} | {speed['speed_ratio']:.1f}x faster |"
    )
    print(
        f"| text exact % | {pct(p_exact)} | {pct(b_exact)} | "
        f"{p_exact / b_exact if b_exact else float('inf'):.2f}x |"
    )
    print(
        f"| residual error % among auto-accepted | {pct(p_res)} (STP {pct(p_stp)} %) | "
        f"{pct(b_res)} (accepts all) | {b_res / p_res if p_res else float('inf'):.1f}x fewer |"
    )
    print(
        f"\nPhysical floor (decode + one OCR pass over text fields cut with the true "
        f"transform): {speed['floor_pages_per_s']:.2f} pages/s; the pipeline runs at "
        f"{pct(speed['floor_fraction'])} % of it."
    )
    return speed


def throughput(speed: dict[str, Any], pipe: Any, par1: Any, parn: Any) -> None:
    total_pages = sum(x["pages"] for x in pipe["files"].values())
    speed["one_pass_pages_per_s"] = total_pages / sum(x["seconds"] for x in pipe["files"].values())
    speed["stage_ms_per_page"] = {k: 1000 * v / total_pages for k, v in pipe["stages"].items()}
    if par1 is None:
        # No timed runs: the plot shows the scored pass, one worker, instead.
        speed["one_worker"] = {"workers": 1, "pages_per_s": speed["one_pass_pages_per_s"]}
        speed["all_cores"] = speed["one_worker"]
        print(f"\nScored pass: {speed['one_pass_pages_per_s']:.2f} pages/s on one core.")
    else:
        speed["one_worker"], speed["all_cores"] = par1, parn
        print(
            f"\nThroughput over all {par1['pages']} pages: 1 worker {par1['pages_per_s']:.2f} "
            f"pages/s, {parn['workers']} workers {parn['pages_per_s']:.2f} pages/s; peak "
            f"memory per worker {parn['peak_rss_mb']:.0f} MB."
        )
    print(
        "\nPer stage, ms per page: "
        + ", ".join(f"{k} {v:.1f}" for k, v in speed["stage_ms_per_page"].items())
    )


def stp_curves(
    how: str, levels: list[str], fields: list[FieldRow], recs: list[RecordRow]
) -> dict[str, Any]:
    print("\n## Records straight through against residual error (threshold swept)\n")
    print(
        "A record goes straight through when no field is flagged; at threshold t a field is "
        "accepted when its confidence reaches t and it has no issue. 'Pipeline': as it routes "
        f"({how}): records accepted, wrong among fields not flagged. t: the threshold.\n"
    )
    print(
        "| level | records | pipeline: STP | residual | residual @70 % STP | "
        "@80 % | @90 % | STP @0.3 % residual | @0.5 % | STP at t=0 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    out: dict[str, Any] = {"sweeps": {}, "table": {}, "operating": {}}
    for lv in levels:
        fs = [f for f in fields if f.level == lv]  # a wrong form's values count as wrong
        rs = [r for r in recs if r.level == lv]
        curve = curves.sweep(fs, rs)
        through = [f for f in fs if not f.flagged]
        op = {
            "stp": sum(r.accepted for r in rs) / len(rs) if rs else 0.0,
            "fields_stp": len(through) / len(fs) if fs else 0.0,
            "residual": sum(not f.exact for f in through) / len(through) if through else 0.0,
        }
        out["operating"][lv] = op
        tab = curves.table_row(curve)

        def res(p: curves.Point | None) -> str:
            return "n/a" if p is None else f"{pct(p.residual)} (t {p.threshold:.3f})"

        def stp(p: curves.Point | None) -> str:
            return "n/a" if p is None else f"{pct(p.stp)} (t {p.threshold:.3f})"

        print(
            f"| {lv} | {len(rs)} | {pct(op['stp'])} | {pct(op['residual'])} | "
            f"{res(tab['residual@stp70'])} | {res(tab['residual@stp80'])} | "
            f"{res(tab['residual@stp90'])} | {stp(tab['stp@residual0.3'])} | "
            f"{stp(tab['stp@residual0.5'])} | {pct(curve[0].stp)} |"
        )
        seen: set[tuple[float, float]] = set()
        thin = []
        for p in curve:  # one point per distinct (STP, residual): the plot's shape
            key = (round(p.stp, 4), round(p.residual, 5))
            if key not in seen:
                seen.add(key)
                thin.append(p.__dict__)
        out["sweeps"][lv] = thin
        out["table"][lv] = {k: (v.__dict__ if v else None) for k, v in tab.items()}
    print(
        "\n'STP at t=0' is the ceiling: records blocked by an issue (a field's or the "
        "record's) or not identified never go straight through, whatever the threshold.\n"
    )
    out["blockers"] = blockers(levels, recs, fields)
    return out


def blockers(levels: list[str], recs: list[RecordRow], fields: list[FieldRow]) -> dict[str, Any]:
    """What keeps records from going straight through whatever the threshold: per issue
    code, the records it blocks, those it blocks alone (fixing it frees them), and the
    scored fields that carry it with the share of them that were right all along."""
    print(
        "| level | blocked by | records | alone | fields with it | of those right % | forms |"
        "\n|---|---|---|---|---|---|---|"
    )
    out: dict[str, Any] = {}
    for lv in levels:
        rs = [r for r in recs if r.level == lv and r.blockers]
        codes = sorted({c for r in rs for c in r.blockers})
        rows = []
        for c in codes:
            hit = [r for r in rs if c in r.blockers]
            alone = sum(r.blockers == (c,) for r in hit)
            forms = sorted({r.form for r in hit})
            rows.append((c, len(hit), alone, forms))
        rows.sort(key=lambda x: (-x[1], x[0]))
        out[lv] = {}
        for c, n, alone, forms in rows:
            fs = [f for f in fields if f.level == lv and c in f.issues]
            right = sum(f.exact for f in fs) / len(fs) if fs else None
            print(f"| {lv} | {c} | {n} | {alone} | {len(fs)} | {pct(right)} | {', '.join(forms)} |")
            out[lv][c] = {"records": n, "alone": alone, "fields": len(fs), "right": right}
    return out


def reliability(levels: list[str], fields: list[FieldRow]) -> dict[str, Any]:
    print("\n## Reliability of confidence (10 bins)\n")
    out: dict[str, Any] = {}
    for lv in levels:
        fs = [f for f in fields if f.level == lv and f.type != "?"]
        bins = {
            "all": curves.reliability(fs),
            "text": curves.reliability([f for f in fs if f.kind == "text"]),
            "mark": curves.reliability([f for f in fs if f.kind == "mark"]),
        }
        print(f"\n### {lv}\n")
        print(
            "| bin | all: n | mean conf | right % | text: n | mean conf | right % | "
            "marks: n | mean conf | right % |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for b in range(10):
            cells = []
            for kind in ("all", "text", "mark"):
                hit = next((x for x in bins[kind] if round(x.lo * 10) == b), None)
                cells.append(
                    "| | "
                    if hit is None
                    else f"{hit.count} | {hit.mean_confidence:.3f} | {pct(hit.share_right)}"
                )
            print(f"| {b / 10:.1f}-{(b + 1) / 10:.1f} | " + " | ".join(cells) + " |")
        print("\n| field type | n | mean conf | right % | ECE % | worst bin gap % |")
        print("|---|---|---|---|---|---|")
        by_type: dict[str, Any] = {}
        for t in sorted({f.type for f in fs}):
            ft = [f for f in fs if f.type == t]
            tb = curves.reliability(ft)
            ece, worst = curves.calibration_error(tb)
            mean_c = sum(f.confidence for f in ft) / len(ft)
            right = sum(f.exact for f in ft) / len(ft)
            by_type[t] = {
                "n": len(ft),
                "mean_confidence": mean_c,
                "share_right": right,
                "ece": ece,
                "worst_gap": worst,
                "bins": [b.__dict__ for b in tb],
            }
            print(f"| {t} | {len(ft)} | {mean_c:.3f} | {pct(right)} | {pct(ece)} | {pct(worst)} |")
        ece, worst = curves.calibration_error(bins["all"])
        print(f"\nAll fields at {lv}: ECE {pct(ece)} %, worst bin gap {pct(worst)} %.")
        out[lv] = {
            "bins": {k: [b.__dict__ for b in v] for k, v in bins.items()},
            "by_type": by_type,
            "ece": ece,
            "worst_gap": worst,
        }
    return out


def report(
    cfg: Config,
    files: Any,
    pipe: Any,
    base: Any,
    floor: Any,
    subset: Any,
    par1: Any,
    parn: Any,
    errors_out: Path,
) -> dict[str, Any]:
    how = routing(cfg)
    levels = sorted({lv for lv, _, _ in files}, key=LEVEL_ORDER.index)
    results: dict[str, Any] = {"routing": how, "levels": {}, "curves": {}, "speed": {}}
    accuracy(how, levels, pipe, results)
    speed = comparison(pipe, base, floor, subset)
    throughput(speed, pipe, par1, parn)
    results["speed"] = speed
    fields, recs = pipe["field_rows"], pipe["record_rows"]
    swept = stp_curves(how, levels, fields, recs)
    results["sweeps"], results["stp_table"] = swept["sweeps"], swept["table"]
    results["operating"], results["blockers"] = swept["operating"], swept["blockers"]
    results["reliability"] = reliability(levels, fields)
    lost = errors.diacritics_lost(fields)
    print("\n## å/ä/ö in text fields\n\n| level | fields with marks | marks | lost |")
    print("|---|---|---|---|")
    for lv in levels:
        t = lost.get(lv, {"marks": 0, "lost": 0, "fields_with_marks": 0})
        print(f"| {lv} | {t['fields_with_marks']} | {t['marks']} | {t['lost']} |")
    print("\n'lost': read as the bare letter where the rest of the value has the right length.")
    results["diacritics"] = lost
    results["errors"] = errors.analyse(fields, recs, errors_out)
    return results
