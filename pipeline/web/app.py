"""The web app: ``create_app(cfg, db)`` builds it; nothing is created at import time.

Every page needs a signed-in user (``who``); every POST needs the session's CSRF token
(``checked``); admin actions need the admin role (``admin``). Refusals: not signed in:
303 to the sign-in page (401 for htmx requests); wrong role: 403; bad CSRF token: 403;
a record changed by someone else: 409.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine

from pipeline.config import Config
from pipeline.errors import StateError
from pipeline.templates.load import TEMPLATE_FILE, read_spec, template_dirs
from pipeline.templates.schema import TemplateSpec
from pipeline.web import auth
from pipeline.web.auth import LOGIN_COOKIE, SESSION_COOKIE, Principal


class NotSignedIn(Exception):
    pass


def create_app(cfg: Config, db: Engine) -> FastAPI:
    from pipeline.web.routes import router

    app = FastAPI(title="blankett review", docs_url=None, redoc_url=None, openapi_url=None)
    web_root = Path(str(files("pipeline.web")))
    app.state.cfg = cfg
    app.state.db = db
    app.state.specs = load_specs(cfg)
    app.state.pages = Jinja2Templates(directory=str(web_root / "html"))
    app.mount("/static", StaticFiles(directory=str(web_root / "static")), name="static")
    app.include_router(router)

    @app.exception_handler(NotSignedIn)
    async def _to_login(request: Request, _exc: NotSignedIn) -> Response:
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(StateError)
    async def _conflict(request: Request, exc: StateError) -> Response:
        return render(
            request, "message.html", {"title": "Not done", "message": exc.message}, status=409
        )

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        resp: Response = await call_next(request)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
        )
        if request.url.path != "/login" and not request.url.path.startswith("/static"):
            resp.headers.setdefault("Cache-Control", "no-store")  # personal data
        return resp

    return app


def load_specs(cfg: Config) -> dict[tuple[str, int], TemplateSpec]:
    """Every template version's spec (no reference images: the UI needs boxes only)."""
    out = {}
    if cfg.templates_dir.is_dir():
        for d in template_dirs(cfg.templates_dir):
            spec = read_spec(d / TEMPLATE_FILE)
            out[(spec.id, spec.version)] = spec
    return out


def spec_for(request: Request, form: str | None, version: int | None) -> TemplateSpec | None:
    if form is None:
        return None
    specs: dict[tuple[str, int], TemplateSpec] = request.app.state.specs
    return specs.get((form, version or 1))


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    pages: Jinja2Templates = request.app.state.pages
    ctx = {"who": getattr(request.state, "who", None), **context}
    return pages.TemplateResponse(request, name, ctx, status_code=status, headers=headers)


def db_of(request: Request) -> Engine:
    return request.app.state.db


def cfg_of(request: Request) -> Config:
    return request.app.state.cfg


def who(request: Request) -> Principal:
    p = auth.principal_for(db_of(request), request.cookies.get(SESSION_COOKIE))
    if p is None:
        raise NotSignedIn()
    request.state.who = p
    return p


async def checked(request: Request, p: Annotated[Principal, Depends(who)]) -> Principal:
    """The signed-in user of a state-changing request with a valid CSRF token."""
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not auth.same_token(sent, p.csrf):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page")
    return p


def admin(p: Annotated[Principal, Depends(checked)]) -> Principal:
    if not p.is_admin:
        raise HTTPException(403, "this needs the admin role")
    return p


Who = Annotated[Principal, Depends(who)]
Checked = Annotated[Principal, Depends(checked)]
Admin = Annotated[Principal, Depends(admin)]
FormStr = Annotated[str, Form()]


def set_session_cookie(resp: Response, cfg: Config, token: str) -> None:
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        secure=cfg.web.secure_cookies,
        samesite="strict",
        max_age=int(cfg.web.session_hours * 3600),
        path="/",
    )


def set_login_cookie(resp: Response, cfg: Config, token: str) -> None:
    resp.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        secure=cfg.web.secure_cookies,
        samesite="strict",
        max_age=3600,
        path="/login",
    )
