"""The pages and actions of the review UI: each calls one operation of
``pipeline.service`` and renders its result (see ``deps`` for who may do what)."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from pipeline.db import state
from pipeline.errors import BlankettError, StateError
from pipeline.records import RecordStatus
from pipeline.service import accounts, ops
from pipeline.service import review as ops_review
from pipeline.stages.review import RECORD_ISSUES, Edit
from pipeline.web import views
from pipeline.web.deps import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Admin,
    Checked,
    Env,
    EnvDep,
    FormStr,
    Who,
    render,
    set_login_cookie,
    set_session_cookie,
)

router = APIRouter()


# -- signing in and out ----------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, env: EnvDep, next: str = "/") -> Response:
    token = secrets.token_urlsafe(32)
    resp = render(request, "login.html", {"title": "Sign in", "csrf": token, "next": next})
    set_login_cookie(resp, env.cfg, token)
    return resp


@router.post("/login")
def login(
    request: Request,
    env: EnvDep,
    name: FormStr,
    password: FormStr,
    csrf: FormStr,
    next: FormStr = "/",
) -> Response:
    if not accounts.same_token(csrf, request.cookies.get(LOGIN_COOKIE)):
        raise HTTPException(403, "the sign-in form expired; reload the page")
    error, status = "Wrong user name or password.", 401
    try:
        got = accounts.sign_in(env.db, name.strip(), password, env.cfg.web.session_hours)
    except accounts.SignInLocked:
        got = None
        error = (
            f"Too many failed sign-ins for this name. Wait {accounts.LOCK_MINUTES} minutes, "
            "or ask an admin to set a new password (blankett user passwd)."
        )
        status = 429
    if got is None:
        token = secrets.token_urlsafe(32)
        resp = render(
            request,
            "login.html",
            {"title": "Sign in", "csrf": token, "next": next, "name": name, "error": error},
            status=status,
        )
        set_login_cookie(resp, env.cfg, token)
        return resp
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    ok = RedirectResponse(target, status_code=303)
    set_session_cookie(ok, env.cfg, got[0])
    ok.delete_cookie(LOGIN_COOKIE, path="/login")
    return ok


@router.post("/logout")
def logout(env: EnvDep, p: Checked) -> Response:
    accounts.sign_out(env.db, p)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# -- overview --------------------------------------------------------------------------


@router.get("/")
def dashboard(request: Request, env: EnvDep, p: Who) -> Response:
    local_midnight = (
        dt.datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    )
    d = ops.figures(env.db, local_midnight.astimezone(dt.UTC))
    return render(request, "dashboard.html", {"title": "Dashboard", "d": d, "now": state.now()})


@router.get("/queue")
def queue(request: Request, env: EnvDep, p: Who, form: str | None = None) -> Response:
    ctx = {
        "title": "Review queue",
        "items": views.queue(ops_review.waiting(env.db, form or None)),
        "forms": ops_review.waiting_forms(env.db),
        "form": form or "",
        "now": state.now(),
    }
    if request.headers.get("HX-Request"):
        return render(request, "_queue_table.html", ctx)
    return render(request, "queue.html", ctx)


@router.get("/review/next")
def review_next(env: EnvDep, p: Who, form: str | None = None, after: str | None = None) -> Response:
    items = views.queue(ops_review.waiting(env.db, form or None))
    key = views.next_key(items, p.name, after)
    if key is None:
        return RedirectResponse("/queue?done=1" + (f"&form={form}" if form else ""), 303)
    return RedirectResponse(f"/records/{key}" + (f"?form={form}" if form else ""), 303)


# -- one record ------------------------------------------------------------------------


def _view(env: Env, key: str) -> views.RecordView:
    got = ops_review.open_record(env.db, key)
    if got is None:
        raise HTTPException(404, f"no record {key}")
    rec, doc, history = got
    return views.record_view(rec, doc, history, env.spec(rec.template_id, rec.template_version))


@router.get("/records/{key}")
def record_page(
    request: Request, env: EnvDep, key: str, p: Who, form: str | None = None
) -> Response:
    v = _view(env, key)
    notice = None
    if (
        v.claimed_by
        and v.claimed_by != p.name
        and v.claimed_at
        and state.now() - v.claimed_at < dt.timedelta(minutes=env.cfg.web.claim_minutes)
    ):
        notice = (v.claimed_by, v.claimed_at)
    if v.status == RecordStatus.NEEDS_REVIEW:
        ops_review.claim(env.db, key, p.name)
    return render(
        request,
        "record.html",
        {"title": f"Record {v.form_title}", "v": v, "notice": notice, "form": form},
    )


@router.post("/records/{key}/fields/{name}")
def edit_field(
    request: Request,
    env: EnvDep,
    key: str,
    name: str,
    p: Checked,
    version: Annotated[int, Form()],
    value: FormStr = "",
    original: FormStr = "",
    override: FormStr = "",
    form: FormStr = "",
) -> Response:
    text = None if name == RECORD_ISSUES or value == original else value
    try:
        res = ops_review.edit_field(
            env.db,
            key,
            version,
            Edit(name, text, override or None),
            env.spec,
            p.name,
            env.targets,
        )
    except StateError as exc:
        v = _view(env, key)
        card = next((c for c in v.cards if c.name == name), None)
        return render(
            request, "_card.html", {"v": v, "c": card, "conflict": exc.message}, status=409
        )
    if res.accepted:
        nxt = f"/review/next?after={key}" + (f"&form={form}" if form else "")
        return Response(status_code=200, headers={"HX-Redirect": nxt})
    v = _view(env, key)
    card = next(c for c in v.cards if c.name == name)
    if res.refused:
        return render(
            request,
            "_card.html",
            {"v": v, "c": card, "refused": views.issue_words(res.refused), "typed": value},
            status=422,
        )
    return render(request, "_card.html", {"v": v, "c": card, "oob_version": True})


def _artifact(env: Env, path: str | None) -> FileResponse:
    root = env.cfg.artifacts_dir.resolve()
    if not path:
        raise HTTPException(404, "no image")
    real = Path(path).resolve()
    if not real.is_relative_to(root) or not real.is_file():
        raise HTTPException(404, "no image")
    return FileResponse(
        real, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/records/{key}/crops/{name}")
def crop(env: EnvDep, key: str, name: str, p: Who) -> Response:
    rec = ops_review.record(env.db, key)
    f = rec.find(name) if rec else None
    return _artifact(env, f.crop if f else None)


@router.get("/records/{key}/pages/{page}")
def page_image(env: EnvDep, key: str, page: int, p: Who) -> Response:
    rec = ops_review.record(env.db, key)
    return _artifact(env, rec.previews.get(page) if rec else None)


# -- documents that need an admin ------------------------------------------------------


@router.get("/unidentified")
def unidentified_page(request: Request, env: EnvDep, p: Who) -> Response:
    return render(
        request,
        "unidentified.html",
        {
            "title": "Unidentified documents",
            "items": views.unidentified(ops_review.unidentified(env.db)),
            "forms": env.forms,
        },
    )


@router.get("/documents/{doc_id}/pages/{page}")
def document_page(env: EnvDep, doc_id: int, page: int, p: Who, width: int = 900) -> Response:
    """A page of a stored original as scanned (for pages no template was found for)."""
    doc = ops_review.document(env.db, doc_id)
    if doc is None or not doc.stored:
        raise HTTPException(404, f"document {doc_id} has no stored original")
    try:
        data = views.page_jpeg(env.originals.path(doc.stored), page, width, env.cfg)
    except BlankettError as exc:
        raise HTTPException(422, exc.message) from None
    except views.NoSuchPage as exc:
        raise HTTPException(404, f"document {doc_id}: {exc}") from None
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


@router.post("/documents/{doc_id}/assign")
def assign_template(env: EnvDep, doc_id: int, p: Admin, template: FormStr) -> Response:
    if template not in env.forms:
        raise HTTPException(422, f"no template {template!r}")
    ops_review.assign_template(env.db, doc_id, template, p.name)
    return RedirectResponse("/unidentified?assigned=1", status_code=303)


@router.get("/quarantine")
def quarantine_page(request: Request, env: EnvDep, p: Who) -> Response:
    return render(
        request,
        "quarantine.html",
        {
            "title": "Quarantine and failures",
            "items": views.quarantined(ops.failed_documents(env.db)),
        },
    )


@router.post("/documents/{doc_id}/retry")
def retry(env: EnvDep, doc_id: int, p: Admin) -> Response:
    ops.retry_document(env.db, doc_id, env.originals, env.cfg, p.name)
    return RedirectResponse("/quarantine?queued=1", status_code=303)


@router.get("/healthz", include_in_schema=False)
def health(env: EnvDep) -> dict[str, str]:
    ops.ping(env.db)
    return {"status": "ok"}
