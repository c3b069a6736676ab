"""The pages and actions of the review UI (see ``app`` for who may do what)."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import delete, select

from pipeline.db import state
from pipeline.db.schema import documents, records
from pipeline.db.state import DocStatus, RecordStatus
from pipeline.errors import StateError
from pipeline.stages.review import RECORD_ISSUES, Edit, apply_edit
from pipeline.templates.schema import TemplateSpec
from pipeline.web import auth, views
from pipeline.web.app import (
    Admin,
    Checked,
    FormStr,
    Who,
    cfg_of,
    db_of,
    render,
    set_login_cookie,
    set_session_cookie,
    spec_for,
)
from pipeline.web.auth import LOGIN_COOKIE, SESSION_COOKIE

router = APIRouter()


# -- signing in and out ----------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    token = secrets.token_urlsafe(32)
    resp = render(request, "login.html", {"title": "Sign in", "csrf": token, "next": next})
    set_login_cookie(resp, cfg_of(request), token)
    return resp


@router.post("/login")
def login(
    request: Request, name: FormStr, password: FormStr, csrf: FormStr, next: FormStr = "/"
) -> Response:
    if not auth.same_token(csrf, request.cookies.get(LOGIN_COOKIE)):
        raise HTTPException(403, "the sign-in form expired; reload the page")
    cfg = cfg_of(request)
    error, status = "Wrong user name or password.", 401
    try:
        got = auth.sign_in(db_of(request), name.strip(), password, cfg.web.session_hours)
    except auth.SignInLocked:
        got = None
        error = (
            f"Too many failed sign-ins for this name. Wait {auth.LOCK_MINUTES} minutes, "
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
        set_login_cookie(resp, cfg, token)
        return resp
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    ok = RedirectResponse(target, status_code=303)
    set_session_cookie(ok, cfg, got[0])
    ok.delete_cookie(LOGIN_COOKIE, path="/login")
    return ok


@router.post("/logout")
def logout(request: Request, p: Checked) -> Response:
    auth.sign_out(db_of(request), p)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# -- overview --------------------------------------------------------------------------


@router.get("/")
def dashboard(request: Request, p: Who) -> Response:
    local_midnight = (
        dt.datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    )
    d = views.dashboard(db_of(request), local_midnight.astimezone(dt.UTC))
    return render(request, "dashboard.html", {"title": "Dashboard", "d": d, "now": state.now()})


@router.get("/queue")
def queue(request: Request, p: Who, form: str | None = None) -> Response:
    db = db_of(request)
    ctx = {
        "title": "Review queue",
        "items": views.queue(db, form or None),
        "forms": views.queue_forms(db),
        "form": form or "",
        "now": state.now(),
    }
    if request.headers.get("HX-Request"):
        return render(request, "_queue_table.html", ctx)
    return render(request, "queue.html", ctx)


@router.get("/review/next")
def review_next(
    request: Request, p: Who, form: str | None = None, after: str | None = None
) -> Response:
    key = views.next_key(db_of(request), p.name, form or None, after)
    if key is None:
        return RedirectResponse("/queue?done=1" + (f"&form={form}" if form else ""), 303)
    return RedirectResponse(f"/records/{key}" + (f"?form={form}" if form else ""), 303)


# -- one record ------------------------------------------------------------------------


def _spec(request: Request, key: str) -> TemplateSpec | None:
    """The template of record ``key`` (404 when there is no such record)."""
    with db_of(request).connect() as conn:
        row = conn.execute(
            select(records.c.template_id, records.c.template_version).where(records.c.key == key)
        ).one_or_none()
    if row is None:
        raise HTTPException(404, f"no record {key}")
    return spec_for(request, row.template_id, row.template_version)


def _view(request: Request, key: str) -> views.RecordView:
    v = views.record_view(db_of(request), key, _spec(request, key))
    assert v is not None
    return v


@router.get("/records/{key}")
def record_page(request: Request, key: str, p: Who, form: str | None = None) -> Response:
    v = _view(request, key)
    cfg = cfg_of(request)
    notice = None
    if (
        v.claimed_by
        and v.claimed_by != p.name
        and v.claimed_at
        and state.now() - v.claimed_at < dt.timedelta(minutes=cfg.web.claim_minutes)
    ):
        notice = (v.claimed_by, v.claimed_at)
    if v.status == RecordStatus.NEEDS_REVIEW:
        views.claim(db_of(request), key, p.name)
    return render(
        request,
        "record.html",
        {"title": f"Record {v.form_title}", "v": v, "notice": notice, "form": form},
    )


@router.post("/records/{key}/fields/{name}")
def edit_field(
    request: Request,
    key: str,
    name: str,
    p: Checked,
    version: Annotated[int, Form()],
    value: FormStr = "",
    original: FormStr = "",
    override: FormStr = "",
    form: FormStr = "",
) -> Response:
    cfg = cfg_of(request)
    db = db_of(request)
    spec = _spec(request, key)
    text = None if name == RECORD_ISSUES or value == original else value
    try:
        with db.begin() as conn:
            res = apply_edit(
                conn,
                key,
                version,
                Edit(name, text, override or None),
                spec,
                p.name,
                tuple(t.name for t in cfg.delivery.targets),
            )
    except StateError as exc:
        v = _view(request, key)
        card = next((c for c in v.cards if c.name == name), None)
        return render(
            request, "_card.html", {"v": v, "c": card, "conflict": exc.message}, status=409
        )
    if res.accepted:
        nxt = f"/review/next?after={key}" + (f"&form={form}" if form else "")
        return Response(status_code=200, headers={"HX-Redirect": nxt})
    v = _view(request, key)
    card = next(c for c in v.cards if c.name == name)
    if res.refused:
        return render(
            request,
            "_card.html",
            {"v": v, "c": card, "refused": views.issue_words(list(res.refused)), "typed": value},
            status=422,
        )
    return render(request, "_card.html", {"v": v, "c": card, "oob_version": True})


def _artifact(request: Request, path: str | None) -> FileResponse:
    root = cfg_of(request).artifacts_dir.resolve()
    if not path:
        raise HTTPException(404, "no image")
    real = Path(path).resolve()
    if not real.is_relative_to(root) or not real.is_file():
        raise HTTPException(404, "no image")
    return FileResponse(
        real, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/records/{key}/crops/{name}")
def crop(request: Request, key: str, name: str, p: Who) -> Response:
    with db_of(request).connect() as conn:
        fields = conn.execute(select(records.c.fields).where(records.c.key == key)).scalar()
    return _artifact(request, (fields or {}).get(name, {}).get("crop"))


@router.get("/records/{key}/pages/{page}")
def page_image(request: Request, key: str, page: int, p: Who) -> Response:
    with db_of(request).connect() as conn:
        previews = conn.execute(select(records.c.previews).where(records.c.key == key)).scalar()
    return _artifact(request, (previews or {}).get(str(page)))


# -- documents that need an admin ------------------------------------------------------


@router.get("/unidentified")
def unidentified_page(request: Request, p: Who) -> Response:
    forms = sorted({k[0] for k in request.app.state.specs})
    return render(
        request,
        "unidentified.html",
        {
            "title": "Unidentified documents",
            "items": views.unidentified(db_of(request)),
            "forms": forms,
        },
    )


@router.get("/documents/{doc_id}/pages/{page}")
def document_page(request: Request, doc_id: int, page: int, p: Who, width: int = 900) -> Response:
    """A page of a stored original as scanned (for pages no template was found for)."""
    import cv2

    from pipeline.compose import build_originals
    from pipeline.errors import BlankettError
    from pipeline.imaging import downscale
    from pipeline.stages.ingest import ingest
    from pipeline.stages.normalize import normalize

    cfg = cfg_of(request)
    with db_of(request).connect() as conn:
        stored = conn.execute(
            select(documents.c.stored).where(documents.c.id == doc_id)
        ).scalar_one_or_none()
    if not stored:
        raise HTTPException(404, f"document {doc_id} has no stored original")
    try:
        pages = normalize(
            ingest(build_originals(cfg).path(stored), cfg.limits), cfg.normalize, cfg.limits
        )
    except BlankettError as exc:
        raise HTTPException(422, exc.message) from None
    if not 1 <= page <= len(pages):
        raise HTTPException(404, f"document {doc_id} has {len(pages)} pages")
    img = pages[page - 1].image
    small = downscale(img, min(1.0, max(100, min(width, 2000)) / img.shape[1]))
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return Response(
        data.tobytes(), media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


@router.post("/documents/{doc_id}/assign")
def assign_template(request: Request, doc_id: int, p: Admin, template: FormStr) -> Response:
    if template not in {k[0] for k in request.app.state.specs}:
        raise HTTPException(422, f"no template {template!r}")
    with db_of(request).begin() as conn:
        keys = (
            conn.execute(
                select(records.c.key).where(
                    records.c.document_id == doc_id, records.c.status == RecordStatus.UNIDENTIFIED
                )
            )
            .scalars()
            .all()
        )
        if not keys:
            raise StateError(f"document {doc_id} has no unidentified page")
        for k in keys:
            state.log_event(
                conn,
                "record",
                k,
                "removed",
                before="unidentified",
                actor=p.name,
                reason=f"template {template} assigned",
            )
        conn.execute(delete(records).where(records.c.key.in_(keys)))
        state.move(
            conn,
            "document",
            doc_id,
            DocStatus.RECEIVED,
            actor=p.name,
            reason="template_assigned",
            values={"template_hint": template, "attempts": 0},
        )
    return RedirectResponse("/unidentified?assigned=1", status_code=303)


@router.get("/quarantine")
def quarantine_page(request: Request, p: Who) -> Response:
    return render(
        request,
        "quarantine.html",
        {"title": "Quarantine and failures", "items": views.quarantined(db_of(request))},
    )


@router.post("/documents/{doc_id}/retry")
def retry(request: Request, doc_id: int, p: Admin) -> Response:
    from pipeline.compose import build_originals
    from pipeline.service.ops import retry_document

    cfg = cfg_of(request)
    retry_document(db_of(request), doc_id, build_originals(cfg), cfg, p.name)
    return RedirectResponse("/quarantine?queued=1", status_code=303)


@router.get("/healthz", include_in_schema=False)
def health(request: Request) -> dict[str, str]:
    with db_of(request).connect() as conn:
        conn.execute(select(documents.c.id).limit(1))
    return {"status": "ok"}
