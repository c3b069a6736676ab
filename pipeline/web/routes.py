"""The pages and actions of the review UI: each calls one operation of
``pipeline.service`` and renders its result (see ``deps`` for who may do what)."""

from __future__ import annotations

import datetime as dt
import math
import secrets
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from pipeline.db import state
from pipeline.errors import BlankettError, SignInThrottled, StateError
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
    login_cookie_missing,
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
        return render(
            request,
            "message.html",
            {"title": "Sign-in not possible", "message": login_cookie_missing(request, env.cfg)},
            status=403,
        )
    error, status, headers = "Wrong user name or password.", 401, None
    client = request.client.host if request.client else "unknown"
    try:
        got = accounts.sign_in(env.db, name.strip(), password, env.cfg.web.session_hours, client)
    except SignInThrottled as exc:
        got = None
        # The same words for every name, known or not.
        error = (
            "Too many failed sign-ins for this name from this computer. Try again in "
            f"{_wait_words(exc.seconds)}, or ask an admin to set a new password "
            "(blankett user passwd), which lifts the wait at once."
        )
        status, headers = 429, {"Retry-After": str(exc.seconds)}
    if got is None:
        token = secrets.token_urlsafe(32)
        resp = render(
            request,
            "login.html",
            {"title": "Sign in", "csrf": token, "next": next, "name": name, "error": error},
            status=status,
            headers=headers,
        )
        set_login_cookie(resp, env.cfg, token)
        return resp
    target = next if _local_path(next) else "/"
    ok = RedirectResponse(target, status_code=303)
    set_session_cookie(ok, env.cfg, got[0])
    ok.delete_cookie(LOGIN_COOKIE, path="/login")
    return ok


def _local_path(url: str) -> bool:
    """A path on this site only: browsers read "//host" and "/\\host" as another site."""
    return url.startswith("/") and not url.startswith(("//", "/\\"))


def _wait_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


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
        return RedirectResponse("/queue?" + urlencode({"done": 1, **_form_query(form)}), 303)
    query = urlencode(_form_query(form))
    return RedirectResponse(f"/records/{key}" + (f"?{query}" if query else ""), 303)


def _form_query(form: str | None) -> dict[str, str]:
    return {"form": form} if form else {}


def _next_url(env: Env, after: str, form: str) -> str:
    """Where to go once a record leaves the queue; ``form`` (the queue's filter) is checked
    before anything is changed, so a bad one cannot fail the answer after a commit."""
    if form and form not in env.forms:
        raise HTTPException(400, f"no form {form!r}")
    return "/review/next?" + urlencode({"after": after, **_form_query(form)})


# -- one record ------------------------------------------------------------------------


def _view(env: Env, key: str, viewer: str | None = None) -> views.RecordView:
    """The record page's view; with ``viewer``, a person opens it (audited, claimed)."""
    got = (
        ops_review.open_record(env.db, key)
        if viewer is None
        else ops_review.view_record(env.db, key, viewer)
    )
    if got is None:
        raise HTTPException(404, f"no record {key}")
    rec, doc, history = got
    return views.record_view(rec, doc, history, env.spec(rec.template_id, rec.template_version))


@router.get("/records/{key}")
def record_page(
    request: Request, env: EnvDep, key: str, p: Who, form: str | None = None
) -> Response:
    v = _view(env, key, p.name)
    notice = None
    if (
        v.claimed_by
        and v.claimed_by != p.name
        and v.claimed_at
        and state.now() - v.claimed_at < dt.timedelta(minutes=env.cfg.web.claim_minutes)
    ):
        notice = (v.claimed_by, v.claimed_at)
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
    nxt = _next_url(env, key, form)
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
        if card is None:  # no such field to show (an unidentified record, a made-up name)
            return render(
                request, "message.html", {"title": "Not done", "message": exc.message}, 409
            )
        return render(
            request, "_card.html", {"v": v, "c": card, "conflict": exc.message}, status=409
        )
    if res.accepted:
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


@router.post("/records/{key}/reject")
def reject(
    request: Request, env: EnvDep, key: str, p: Checked, reason: FormStr = "", form: FormStr = ""
) -> Response:
    """An operator rejects a record for good (junk, wrong form, a paper duplicate)."""
    nxt = _next_url(env, key, form)
    if not reason.strip():
        return render(
            request,
            "message.html",
            {"title": "Not done", "message": "Say why the record is rejected."},
            status=422,
        )
    was = ops_review.reject(env.db, key, reason, p.name)
    if was is RecordStatus.UNIDENTIFIED:
        return RedirectResponse("/unidentified?rejected=1", status_code=303)
    return RedirectResponse(nxt, status_code=303)


# Crops and pages show personal data: never kept by a browser or a proxy.
_NO_STORE = {"Cache-Control": "no-store"}


def _artifact(env: Env, path: str | None) -> FileResponse:
    root = env.cfg.artifacts_dir.resolve()
    if not path:
        raise HTTPException(404, "no image")
    real = Path(path).resolve()
    if not real.is_relative_to(root) or not real.is_file():
        raise HTTPException(404, "no image")
    return FileResponse(real, media_type="image/jpeg", headers=_NO_STORE)


@router.get("/records/{key}/crops/{name}")
def crop(env: EnvDep, key: str, name: str, p: Who) -> Response:
    return _artifact(env, ops_review.field_crop(env.db, key, name, p.name))


@router.get("/records/{key}/pages/{page}")
def page_image(env: EnvDep, key: str, page: int, p: Who) -> Response:
    return _artifact(env, ops_review.page_preview(env.db, key, page, p.name))


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


# Ids are 64-bit in the database; a larger one in a URL is no document, not an error.
_MAX_ID = 2**63 - 1
_MAX_PAGE = 100_000


def _doc_id(doc_id: int) -> int:
    if not 1 <= doc_id <= _MAX_ID:
        raise HTTPException(404, f"no document {doc_id}")
    return doc_id


@router.get("/documents/{doc_id}/pages/{page}")
def document_page(env: EnvDep, doc_id: int, page: int, p: Who, width: int = 900) -> Response:
    """A page of a stored original as scanned (for pages no template was found for)."""
    if not 1 <= page <= _MAX_PAGE:
        raise HTTPException(404, f"document {doc_id} has no page {page}")
    doc = ops_review.original_page(env.db, _doc_id(doc_id), page, p.name)
    if doc is None or not doc.stored:
        raise HTTPException(404, f"document {doc_id} has no stored original")
    try:
        data = views.page_jpeg(env.originals.path(doc.stored), page, width, env.cfg)
    except BlankettError as exc:
        raise HTTPException(422, exc.message) from None
    except views.NoSuchPage as exc:
        raise HTTPException(404, f"document {doc_id}: {exc}") from None
    return Response(data, media_type="image/jpeg", headers=_NO_STORE)


@router.post("/documents/{doc_id}/assign")
def assign_template(env: EnvDep, doc_id: int, p: Admin, template: FormStr) -> Response:
    if template not in env.forms:
        raise HTTPException(422, f"no template {template!r}")
    ops_review.assign_template(env.db, _doc_id(doc_id), template, p.name)
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
    ops.retry_document(env.db, _doc_id(doc_id), env.originals, env.cfg, p.name)
    return RedirectResponse("/quarantine?queued=1", status_code=303)


@router.get("/healthz", include_in_schema=False)
def health(env: EnvDep) -> dict[str, str]:
    ops.ping(env.db)
    return {"status": "ok"}
