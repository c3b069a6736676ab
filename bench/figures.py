"""The benchmark's PNG figures (docs/img): fields straight through against residual error,
records straight through against residual error, the reliability diagram, throughput and
where a page's time goes. Drawn from the numbers ``run.py`` saves in results.json, so
``run.py --replot`` redraws them without running anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

LEVEL_ORDER = ["clean", "office", "fax", "harsh"]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def field_curve(folder: Path, curves: dict[str, Any], ops: dict[str, Any], how: str) -> None:
    """Per level: share of fields accepted against residual error, threshold grid; the dot
    is where the pipeline's own routing puts it."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for lv, c in curves.items():
        (line,) = ax.plot([100 * x[1] for x in c], [100 * x[2] for x in c], marker=".", label=lv)
        if lv in ops:
            op = ops[lv]
            ax.scatter(
                [100 * op["fields_stp"]],
                [100 * op["residual"]],
                s=80,
                color=line.get_color(),
                edgecolor="black",
                zorder=3,
            )
    ax.axhline(0.5, color="grey", ls="--", lw=1)
    ax.axvline(85, color="grey", ls="--", lw=1)
    ax.set_xlabel("straight-through rate, % of fields accepted without a person")
    ax.set_ylabel("residual error, % of accepted fields that are wrong")
    ax.set_title(f"Fields straight through against residual error (dots: {how})", fontsize=10)
    ax.legend(title="scan level")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "bench-straight-through.png", dpi=110)
    plt.close(fig)


def record_curve(folder: Path, sweeps: dict[str, Any], ops: dict[str, Any], how: str) -> None:
    """Per level: records straight through against residual error among accepted fields,
    every threshold that occurs; the dot is where the pipeline's own routing puts it."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for lv, pts in sweeps.items():
        xs = [100 * p["stp"] for p in pts if p["accepted"]]
        ys = [100 * p["residual"] for p in pts if p["accepted"]]
        (line,) = ax.plot(xs, ys, lw=1.5, label=lv)
        op = ops.get(lv)
        if op is None:
            continue
        ax.scatter(
            [100 * op["stp"]],
            [100 * op["residual"]],
            s=70,
            color=line.get_color(),
            edgecolor="black",
            zorder=3,
        )
    for y, txt in ((0.3, "0.3 %"), (0.5, "0.5 %")):
        ax.axhline(y, color="grey", ls="--", lw=1)
        ax.annotate(txt, (1, y), xycoords=("axes fraction", "data"), ha="right", va="bottom")
    ax.axvline(70, color="grey", ls=":", lw=1)
    ax.set_xlim(0, 100)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("records straight through, % (no field flagged)")
    ax.set_ylabel("residual error, % of accepted fields wrong")
    ax.set_title(f"Threshold swept over field confidence (dots: {how})", fontsize=10)
    ax.legend(title="scan level")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "bench-stp-vs-residual.png", dpi=110)
    plt.close(fig)


def reliability(folder: Path, diagrams: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    """One column per level: above, share right against mean confidence per bin, text and
    marks apart (the dot's area grows with the bin's count); below, the counts."""
    plt = _plt()
    levels = list(diagrams)
    fig, axes = plt.subplots(
        2,
        len(levels),
        figsize=(4.2 * len(levels), 5.6),
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 1]},
        sharex=True,
    )
    kinds = (("text", "#2b6cb0", -0.02), ("mark", "#c05621", 0.02))
    for col, lv in enumerate(levels):
        ax, hist = axes[0][col], axes[1][col]
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        for kind, color, shift in kinds:
            bins = diagrams[lv].get(kind) or []
            if not bins:
                continue
            xs = [b["mean_confidence"] for b in bins]
            ys = [b["share_right"] for b in bins]
            sizes = [12 + 8 * float(b["count"]) ** 0.5 for b in bins]
            ax.plot(xs, ys, color=color, lw=1, label=kind)
            ax.scatter(xs, ys, s=sizes, color=color, alpha=0.7, edgecolor="black", lw=0.5)
            hist.bar(
                [(b["lo"] + b["hi"]) / 2 + shift for b in bins],
                [b["count"] for b in bins],
                width=0.04,
                color=color,
            )
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_title(lv)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        hist.set_yscale("log")
        hist.set_xlabel("confidence")
        hist.grid(alpha=0.3)
    axes[0][0].set_ylabel("share of values right")
    axes[1][0].set_ylabel("fields")
    fig.suptitle("Reliability: is a value with confidence c right with probability c?")
    fig.tight_layout()
    fig.savefig(folder / "bench-reliability.png", dpi=110)
    plt.close(fig)


def throughput(folder: Path, speed: dict[str, Any]) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    bars = [
        ("baseline\n(1 core)", speed.get("baseline_pages_per_s"), "#999999"),
        ("pipeline\n(1 core)", speed["one_worker"]["pages_per_s"], "#2b6cb0"),
        (
            f"pipeline\n({speed['all_cores']['workers']} cores)",
            speed["all_cores"]["pages_per_s"],
            "#1a4971",
        ),
        ("physical floor\n(1 core)", speed.get("floor_pages_per_s"), "#c0c0c0"),
    ]
    shown = [b for b in bars if b[1] is not None]  # no baseline pages: no baseline bar
    drawn = ax.bar([b[0] for b in shown], [b[1] for b in shown], color=[b[2] for b in shown])
    ax.bar_label(drawn, fmt="%.2f")
    ax.set_ylabel("pages per second")
    ax.set_title("Throughput")
    fig.tight_layout()
    fig.savefig(folder / "bench-throughput.png", dpi=110)
    plt.close(fig)


def stages(folder: Path, speed: dict[str, Any]) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 2.4))
    left = 0.0
    per_page = speed["stage_ms_per_page"]
    order = ["ingest", "normalize", "identify", "align", "ocr", "extract", "validate"]
    for k in [k for k in order if k in per_page]:
        v = per_page[k] - (per_page.get("ocr", 0) if k == "extract" else 0)
        label = "extract (crops, dropout, marks)" if k == "extract" else k
        ax.barh([0], [v], left=left, label=f"{label} {v:.0f} ms")
        left += v
    ax.set_yticks([])
    ax.set_xlabel("ms per page, one core")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    ax.set_title("Where a page's time goes")
    fig.tight_layout()
    fig.savefig(folder / "bench-stages.png", dpi=110)
    plt.close(fig)


def draw_all(folder: Path, results: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    how = results.get("routing") or f"threshold {results.get('threshold')}"
    ops = results.get("operating") or {}
    field_curve(folder, results["curves"], ops, how)
    if results.get("sweeps"):
        record_curve(folder, results["sweeps"], ops, how)
    if results.get("reliability"):
        reliability(folder, {lv: d["bins"] for lv, d in results["reliability"].items()})
    throughput(folder, results["speed"])
    stages(folder, results["speed"])
