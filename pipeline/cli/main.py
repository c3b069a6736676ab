"""The ``blankett`` command line (typer): process, template ..., samples, config.

Exit status: 0 when every file was processed (whatever the record statuses), 1 when any
file failed, 2 for usage or configuration errors.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.common import ConfigOpt, EngineChoice, load_cli_config, setup_logging
from pipeline.cli.service import service_app
from pipeline.config import Config, with_engine
from pipeline.errors import BlankettError, ConfigError, TemplateError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="blankett: scanned paper forms in, validated case records out.",
)
template_app = typer.Typer(no_args_is_help=True, help="Inspect and check form templates.")
app.add_typer(template_app, name="template")
app.add_typer(service_app)


def _expand(paths: list[Path]) -> list[Path]:
    """Named files as given; folders contribute their supported files, sorted."""
    from pipeline.stages.ingest import SUPPORTED_SUFFIXES

    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(
                sorted(
                    q
                    for q in p.rglob("*")
                    if q.is_file() and q.suffix.lower() in SUPPORTED_SUFFIXES
                )
            )
        else:
            out.append(p)
    return out


@app.command()
def process(
    files: Annotated[list[Path], typer.Argument(help="PDF, TIFF, PNG or JPEG files, or folders")],
    config: ConfigOpt = None,
    engine: Annotated[
        EngineChoice | None, typer.Option(help="OCR engine, overriding config ocr.kind")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    keep_crops: Annotated[
        bool,
        typer.Option(
            "--keep-crops",
            help="Save field crops and page previews under data_dir/artifacts (they hold "
            "personal data; by default none are written)",
        ),
    ] = False,
) -> None:
    """Read forms from FILES and print one JSON line per form instance.

    Nothing is stored and no file is moved: this is for trying templates and scans. The
    drop-folder service (`blankett watch`) is what keeps state and delivers records."""
    from pipeline.compose import open_context
    from pipeline.run import process_file

    setup_logging(verbose)
    cfg = _without_crops(load_cli_config(config), keep=keep_crops)
    if engine is not None:
        cfg = with_engine(cfg, engine.value)
    targets = _expand(files)
    if not targets:
        typer.echo("blankett: no PDF, TIFF, PNG or JPEG files found", err=True)
        raise typer.Exit(2)
    any_failed = False
    n_pages = 0
    started = time.perf_counter()
    try:
        with open_context(cfg) as ctx:
            for i, path in enumerate(targets, start=1):
                for rec in process_file(path, ctx):
                    any_failed |= rec.status.value == "failed"
                    n_pages += len(rec.pages)
                    typer.echo(json.dumps(rec.to_json(), ensure_ascii=False))
                if sys.stderr.isatty():
                    typer.echo(f"\r{i}/{len(targets)} files", err=True, nl=False)
    except (TemplateError, ConfigError) as exc:
        typer.echo(f"\nblankett: {exc}", err=True)
        raise typer.Exit(2) from None
    except BlankettError as exc:
        typer.echo(f"\nblankett: {exc} [{exc.code}]", err=True)
        raise typer.Exit(1) from None
    elapsed = time.perf_counter() - started
    typer.echo(
        f"\n{len(targets)} files, {n_pages} pages in {elapsed:.1f} s "
        f"({n_pages / elapsed if elapsed else 0:.2f} pages/s, engine {cfg.ocr.kind})",
        err=True,
    )
    raise typer.Exit(1 if any_failed else 0)


def _without_crops(cfg: Config, *, keep: bool = False) -> Config:
    """``cfg`` saving no field crops or previews: they hold personal data, and the
    one-shot commands promise to store nothing (``artifacts.save_crops`` is the
    service's setting)."""
    return cfg.model_copy(
        update={"artifacts": cfg.artifacts.model_copy(update={"save_crops": keep})}
    )


@app.command()
def evaluate(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Sample files or folders with <file>.expected.json beside each file"),
    ],
    config: ConfigOpt = None,
    engine: Annotated[EngineChoice | None, typer.Option(help="OCR engine override")] = None,
    min_exact: Annotated[float, typer.Option(help="Fail under this text exact-match %")] = 97.0,
    details: Annotated[bool, typer.Option(help="List every wrong or flagged field")] = False,
) -> None:
    """Process samples and score them against their expected values (nothing is stored)."""
    from pipeline.compose import open_context
    from pipeline.evaluate import expected_for, mark_fields, score_file, summarize
    from pipeline.run import process_file

    setup_logging(False)
    cfg = _without_crops(load_cli_config(config))
    if engine is not None:
        cfg = with_engine(cfg, engine.value)
    targets = [p for p in _expand(paths) if expected_for(p) is not None]
    if not targets:
        typer.echo("blankett: no samples with expected values found", err=True)
        raise typer.Exit(2)
    all_records, all_fields = [], []
    with open_context(cfg) as ctx:
        marks = mark_fields(ctx.templates)
        for path in targets:
            expected = expected_for(path) or []
            recs, fields = score_file(path, expected, process_file(path, ctx), marks)
            all_records += recs
            all_fields += fields
    if details:
        for f in all_fields:
            if not f.exact or f.flagged:
                mark = "WRONG" if not f.exact else "flagged"
                extra = "" if f.flagged or f.exact else "  <-- NOT FLAGGED"
                typer.echo(f"{mark:8} {f.file} {f.template}.{f.name}{extra}")
    summary = summarize(all_records, all_fields).as_dict()
    typer.echo(json.dumps(summary, indent=2))
    ok = (
        summary["text_exact_pct"] >= min_exact
        and summary["records_identified_right"] == summary["records"]
    )
    raise typer.Exit(0 if ok else 1)


@template_app.command("schema")
def template_schema() -> None:
    """Print the JSON Schema of template.yaml."""
    from pipeline.templates.schema import TemplateSpec

    typer.echo(json.dumps(TemplateSpec.model_json_schema(), indent=2, ensure_ascii=False))


@template_app.command("list")
def template_list(config: ConfigOpt = None) -> None:
    """List the templates in the configured templates folder."""
    from pipeline.templates.load import TEMPLATE_FILE, read_spec

    cfg = load_cli_config(config)
    root = cfg.templates_dir
    if not root.is_dir():
        typer.echo(f"blankett: templates folder not found: {root}", err=True)
        raise typer.Exit(2)
    for d in sorted(root.iterdir()):
        if (d / TEMPLATE_FILE).is_file():
            try:
                s = read_spec(d / TEMPLATE_FILE)
            except TemplateError as exc:
                typer.echo(f"{d.name}\tINVALID\t{exc}")
                continue
            typer.echo(
                f"{s.id}\tv{s.version}\t{len(s.pages)} pages\t{len(s.fields)} fields\t{s.title}"
            )


@template_app.command("import-pdf")
def template_import_pdf(
    pdf: Annotated[Path, typer.Argument(help="The blank fillable PDF (AcroForm)")],
    template_id: Annotated[str, typer.Option("--id", help="Template id (folder name)")],
    title: Annotated[
        str | None, typer.Option(help="Form title (default: the PDF's own title, else file name)")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="OCR language for text fields, e.g. swe or eng")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Make (or update) templates/ID from a fillable PDF's form fields."""
    from pipeline.templates.importer import import_pdf

    cfg = load_cli_config(config)
    try:
        report = import_pdf(
            pdf,
            template_id,
            cfg.templates_dir,
            dpi=cfg.normalize.dpi,
            title=title,
            language=language,
        )
    except BlankettError as exc:
        typer.echo(f"blankett: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"{report.folder}: version {report.version}, {report.fields} fields"
        + (f", {report.kept} kept from the previous version" if report.kept else "")
    )
    if report.archived:
        typer.echo(f"  the previous version was kept in {report.archived}")
    for note in report.notes:
        typer.echo(f"  note: {note}")
    for skipped in report.skipped:
        typer.echo(f"  skipped: {skipped}")
    if report.uncertain:
        typer.echo(f"  {len(report.uncertain)} guesses are uncertain; check them in template.yaml:")
    for unsure in report.uncertain:
        typer.echo(f"  uncertain: {unsure}")
    typer.echo(f"next: blankett template check {template_id} --overlay overlays/")


@template_app.command("check")
def template_check(
    template_id: Annotated[str, typer.Argument(help="Template id (its folder name)")],
    overlay_dir: Annotated[
        Path | None, typer.Option("--overlay", help="Write one overlay PNG per page here")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Validate a template; report overlapping, off-page or misplaced boxes; draw overlays."""
    import cv2

    from pipeline.templates.check import check_template, overlay
    from pipeline.templates.load import load_template

    cfg = load_cli_config(config)
    try:
        t = load_template(cfg.templates_dir / template_id, cfg.normalize.dpi)
    except TemplateError as exc:
        typer.echo(f"blankett: {exc}", err=True)
        raise typer.Exit(1) from None
    findings = check_template(t)
    for f in findings:
        typer.echo(str(f))
    if overlay_dir is not None:
        overlay_dir.mkdir(parents=True, exist_ok=True)
        for page in t.spec.pages:
            out = overlay_dir / f"{t.id}-v{t.version}-page-{page.number}.png"
            cv2.imwrite(str(out), overlay(t, page.number))
            typer.echo(f"overlay: {out}")
    errors = sum(f.level == "error" for f in findings)
    typer.echo(
        f"{t.id} v{t.version}: {len(t.spec.pages)} pages, {len(t.spec.fields)} fields, "
        f"{len(t.spec.groups)} groups: {errors} errors, {len(findings) - errors} warnings"
    )
    raise typer.Exit(1 if errors else 0)


@template_app.command("test")
def template_test(
    template_id: Annotated[str, typer.Argument(help="Template id")],
    samples: Annotated[list[Path], typer.Argument(help="Scans with <file>.expected.json beside")],
    min_exact: Annotated[float, typer.Option(help="Fail under this exact-match %")] = 97.0,
    config: ConfigOpt = None,
) -> None:
    """Run the pipeline over sample scans of one form and print a per-field table."""
    from pipeline.compose import open_context
    from pipeline.evaluate import (
        expected_for,
        field_table,
        mark_fields,
        score_file,
        summarize,
    )
    from pipeline.run import process_file

    setup_logging(False)
    cfg = _without_crops(load_cli_config(config))
    targets = [p for p in _expand(samples) if expected_for(p) is not None]
    if not targets:
        typer.echo("blankett: no samples with expected values (<file>.expected.json)", err=True)
        raise typer.Exit(2)
    recs, fields = [], []
    try:
        with open_context(cfg) as ctx:
            if template_id not in {t.id for t in ctx.templates}:
                typer.echo(
                    f"blankett: no template {template_id!r} in {cfg.templates_dir}", err=True
                )
                raise typer.Exit(2)
            marks = mark_fields(ctx.templates, template_id)
            for path in targets:
                expected = [e for e in expected_for(path) or [] if e.get("template") == template_id]
                r, f = score_file(path, expected, process_file(path, ctx), marks)
                recs += r
                fields += f
    except TemplateError as exc:
        typer.echo(f"blankett: {exc}", err=True)
        raise typer.Exit(2) from None
    for line in field_table(fields):
        typer.echo(line)
    s = summarize(recs, fields).as_dict()
    typer.echo(
        f"{s['records_identified_right']}/{s['records']} forms identified; "
        f"text {s['text_exact_pct']} % exact, marks {s['marks_right_pct']} % right, "
        f"{s['flagged_pct']} % flagged, {s['wrong_unflagged']} wrong and unflagged"
    )
    ok = (
        s["records_identified_right"] == s["records"]
        and s["records"] > 0
        and s["text_exact_pct"] >= min_exact
        and s["marks_right_pct"] >= min_exact
    )
    raise typer.Exit(0 if ok else 1)


@app.command("samples")
def samples(
    out: Annotated[Path, typer.Argument(help="Folder for the generated samples")],
    templates_out: Annotated[
        Path | None, typer.Option(help="Also write the templates here")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files")] = 7,
    count: Annotated[
        int, typer.Option(help="Instead of the sample set: COUNT filled scans per form")
    ] = 0,
    style: Annotated[str, typer.Option(help="With --count: clean, office or upside_down")] = (
        "office"
    ),
) -> None:
    """Generate the project's sample forms: blank PDFs, templates, filled scan-like copies."""
    from pipeline.samplegen.build import STYLES, generate, generate_corpus

    if count:
        if style not in STYLES:
            typer.echo(f"blankett: unknown style {style!r}; one of {', '.join(STYLES)}", err=True)
            raise typer.Exit(2)
        written = generate_corpus(out, count, seed=seed, style=style)
        typer.echo(f"{len(written)} files written to {out}")
        return
    generate(out, templates_out, seed=seed)
    typer.echo(f"samples written to {out}")


@app.command("config")
def config_show(config: ConfigOpt = None) -> None:
    """Print the effective configuration."""
    cfg = load_cli_config(config)
    typer.echo(json.dumps(cfg.model_dump(mode="json"), indent=2))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
