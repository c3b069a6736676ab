"""The service commands: ``watch``, ``status``, ``records``, ``retry`` and ``db upgrade``.

Exit status: 0 on success, 1 when the asked-for change could not be made (``retry`` of
something that is not failed), 2 for usage, configuration or database errors.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from sqlalchemy.engine import Engine

from pipeline.cli.common import ConfigOpt, load_cli_config, setup_service_logging
from pipeline.config import Config
from pipeline.errors import BlankettError, StateError

service_app = typer.Typer()
db_app = typer.Typer(no_args_is_help=True, help="The state database.")
service_app.add_typer(db_app, name="db")


@contextmanager
def _state_db(cfg: Config) -> Iterator[Engine]:
    from pipeline.config import state_database_url
    from pipeline.db.connect import open_state_db

    try:
        db = open_state_db(state_database_url(cfg))
    except BlankettError as exc:
        typer.echo(f"blankett: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        yield db
    finally:
        db.dispose()


@service_app.command()
def watch(
    config: ConfigOpt = None,
    until_idle: Annotated[
        bool, typer.Option(help="Exit once the inbox is empty and everything is delivered")
    ] = False,
    poll_only: Annotated[
        bool, typer.Option(help="No file events, polling only (as service.events: false)")
    ] = False,
    workers: Annotated[int, typer.Option(help="Worker processes (0: config, one per core)")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Warnings and errors only")] = (
        False
    ),
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log one JSON object per line (for collectors)")
    ] = False,
) -> None:
    """Watch the inbox folders: take, read, validate and deliver every file dropped there."""
    import threading

    from pipeline.compose import build_originals, build_targets, check_ocr_data
    from pipeline.service.dispatch import LocalPool
    from pipeline.service.loop import Service

    setup_service_logging(quiet=quiet, json_lines=log_json)
    cfg = load_cli_config(config)
    if workers:
        cfg = cfg.model_copy(
            update={"service": cfg.service.model_copy(update={"workers": workers})}
        )
    wake = threading.Event()
    try:
        # The workers would each fail every document without their language data.
        check_ocr_data(cfg)
        with _state_db(cfg) as db:
            service = Service(
                cfg,
                db,
                build_originals(cfg),
                LocalPool(cfg, wake),
                build_targets(cfg),
                wake=wake,
                until_idle=until_idle,
                events=False if poll_only else None,
            )
            service.run()
    except BlankettError as exc:
        typer.echo(f"blankett: {exc} [{exc.code}]", err=True)
        raise typer.Exit(2) from None


@service_app.command()
def status(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Counts per status, throughput, the oldest waiting items and recent failures."""
    from pipeline.service.ops import status_summary

    cfg = load_cli_config(config)
    with _state_db(cfg) as db:
        s = status_summary(db, cfg)
    if as_json:
        typer.echo(json.dumps(s, indent=2, ensure_ascii=False))
        return
    typer.echo(f"inbox        {s['inbox_files']} files waiting to be taken")
    for gone in s["inbox_missing"]:
        typer.echo(f"inbox        MISSING {gone} (nothing is taken from it until it is back)")
    if s["inbox_links"]:
        typer.echo(
            f"inbox        {s['inbox_links']} symbolic links, never followed: copy the files "
            "themselves in and remove the links"
        )
    for what in ("documents", "records", "deliveries"):
        parts = ", ".join(f"{k} {v}" for k, v in s[what].items()) or "none"
        typer.echo(f"{what:<12} {parts}")
    h = s["last_hour"]
    typer.echo(
        f"last hour    {h['documents']} documents, {h['pages']} pages "
        f"({h['pages_per_minute']} pages/min)"
    )
    for what, o in s["oldest"].items():
        if o:
            typer.echo(
                f"oldest       {what.replace('_', ' ')}: {o['id']} ({o['status']}, "
                f"{_age(o['age_seconds'])})"
            )
    if s["recent_failures"]:
        typer.echo("recent failures (blankett retry ID once the cause is fixed):")
        for f in s["recent_failures"]:
            typer.echo(
                f"  {f['document']:>6}  {f['status']:<11} {f['reason']:<20} {f['source']}: "
                f"{f['message']}"
            )
    if s["delivery_problems"]:
        typer.echo("delivery problems (blankett retry --delivery ID):")
        for d in s["delivery_problems"]:
            typer.echo(
                f"  {d['delivery']:>6}  {d['status']:<8} {d['target']:<10} attempts "
                f"{d['attempts']}  {d['reason']}: {d['message']}"
            )


@service_app.command()
def records(
    config: ConfigOpt = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            "-s",
            help="delivered (default), accepted, needs_review, unidentified, rejected, all",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """List records (delivered ones unless --status says otherwise), newest first."""
    from pipeline.service.ops import list_records
    from pipeline.stages.deliver import short_key

    wanted = tuple(status or ["delivered"])
    cfg = load_cli_config(config)
    with _state_db(cfg) as db:
        rows = list_records(db, None if "all" in wanted else wanted, limit)
    for r, doc in rows:
        if as_json:
            out: dict[str, Any] = {
                "key": r.key,
                "document": r.document_id,
                "source": doc.source,
                "status": r.status,
                "template": {"id": r.template_id, "version": r.template_version},
                "fields": {f.name: f.to_json() for f in r.fields},
                "issues": list(r.issues),
                "created_at": r.created_at.isoformat() if r.created_at else None,
                "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None,
            }
            typer.echo(json.dumps(out, ensure_ascii=False))
        else:
            when = r.delivered_at or r.created_at
            stamp = when.strftime("%Y-%m-%d %H:%M") if when else "-"
            flagged = sum(1 for f in r.fields if f.needs_review)
            typer.echo(
                f"{short_key(r.key):<16} doc {r.document_id:<6} {r.status:<12} "
                f"{(r.template_id or '-'):<22} {flagged:>2} flagged  {stamp}  {doc.source}"
            )
    if not rows and not as_json:
        typer.echo(f"no records with status {', '.join(wanted)}", err=True)


@service_app.command()
def reject(
    keys: Annotated[list[str], typer.Argument(help="Record keys, as `blankett records` shows")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the record's history)")],
    config: ConfigOpt = None,
) -> None:
    """Reject records in review or unidentified, for good (a junk page, the wrong form, a
    duplicate sent on paper twice): they are never delivered."""
    from pipeline.service.review import find_key
    from pipeline.service.review import reject as reject_record
    from pipeline.stages.deliver import short_key

    cfg = load_cli_config(config)
    actor = f"cli:{getpass.getuser()}"
    bad = False
    with _state_db(cfg) as db:
        for shown in keys:
            try:
                key = find_key(db, shown)
                was = reject_record(db, key, reason, actor)
            except StateError as exc:
                typer.echo(f"blankett: {exc}", err=True)
                bad = True
                continue
            typer.echo(f"record {short_key(key)} rejected (it was {was})")
    raise typer.Exit(1 if bad else 0)


@service_app.command()
def retry(
    ids: Annotated[list[int], typer.Argument(help="Document ids (or delivery ids)")],
    delivery: Annotated[bool, typer.Option("--delivery", help="IDS are delivery ids")] = False,
    config: ConfigOpt = None,
) -> None:
    """Queue failed or quarantined documents (or failed deliveries) again, once fixed."""
    from pipeline.compose import build_originals
    from pipeline.service.ops import retry_delivery, retry_document

    cfg = load_cli_config(config)
    actor = f"cli:{getpass.getuser()}"
    bad = False
    with _state_db(cfg) as db:
        for i in ids:
            try:
                msg = (
                    retry_delivery(db, i, actor)
                    if delivery
                    else retry_document(db, i, build_originals(cfg), cfg, actor)
                )
            except StateError as exc:
                typer.echo(f"blankett: {exc}", err=True)
                bad = True
                continue
            typer.echo(msg)
    raise typer.Exit(1 if bad else 0)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Create or migrate the state database to the newest schema (watch does this too)."""
    from pipeline.db.connect import current_revision

    cfg = load_cli_config(config)
    with _state_db(cfg) as db:
        typer.echo(f"state database at revision {current_revision(db)}")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return str(dt.timedelta(seconds=int(seconds)))


user_app = typer.Typer(no_args_is_help=True, help="Accounts of the review UI.")
service_app.add_typer(user_app, name="user")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        typer.echo("blankett: the two passwords differ", err=True)
        raise typer.Exit(1)
    return first


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name (what they sign in with)")],
    role: Annotated[str, typer.Option(help="operator (reviews) or admin (also re-runs)")] = (
        "operator"
    ),
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Create a local account for the review UI (the password is stored as an argon2 hash)."""
    from pipeline.service.accounts import add_user

    cfg = load_cli_config(config)
    with _state_db(cfg) as db:
        try:
            add_user(db, name, _password(password_stdin), role)
        except StateError as exc:
            typer.echo(f"blankett: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"user {name} added ({role})")


@user_app.command("passwd")
def user_passwd(
    name: Annotated[str, typer.Argument(help="User name")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    config: ConfigOpt = None,
) -> None:
    """Set a new password (and sign the user out everywhere); lifts any sign-in wait."""
    from pipeline.service.accounts import set_password

    cfg = load_cli_config(config)
    with _state_db(cfg) as db:
        try:
            set_password(db, name, _password(password_stdin))
        except StateError as exc:
            typer.echo(f"blankett: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"password of {name} changed; any wait after failed sign-ins is lifted")


@service_app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="Address (default: config web.host)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: config web.port)")] = None,
) -> None:
    """Serve the review UI. With no accounts yet, an admin account is made and its password
    printed once."""
    import secrets

    import uvicorn

    from pipeline.compose import build_originals
    from pipeline.service.accounts import add_user, has_users
    from pipeline.templates.load import load_specs
    from pipeline.web.app import create_app, server_options

    setup_service_logging(quiet=False, json_lines=False)
    cfg = load_cli_config(config)
    with _state_db(cfg) as db:
        if not has_users(db):
            password = secrets.token_urlsafe(12)
            add_user(db, "admin", password, "admin")
            typer.echo(
                f"first start: made the account 'admin' with password {password}\n"
                "  (change it: blankett user passwd admin; add people: blankett user add NAME)",
                err=True,
            )
        app = create_app(cfg, db, load_specs(cfg.templates_dir), build_originals(cfg))
        h, p = host or cfg.web.host, port or cfg.web.port
        typer.echo(f"review UI on http://{h}:{p}/", err=True)
        if cfg.web.secure_cookies and h not in ("127.0.0.1", "localhost", "::1"):
            # Browsers send Secure cookies back over plain http only to localhost.
            typer.echo(
                "  reached from other machines, sign-in needs HTTPS: put a reverse proxy "
                "with TLS in front (or, on a trusted network only, web.secure_cookies: false)",
                err=True,
            )
        uvicorn.run(app, host=h, port=p, **server_options(cfg))
