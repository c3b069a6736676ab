"""What a request handler depends on: who is signed in, the CSRF check, the admin role,
the app's config, database, templates and page renderer, and the cookies.

Refusals: not signed in: 303 to the sign-in page (401 for htmx requests); wrong role:
403; bad CSRF token: 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from pipeline.config import Config
from pipeline.ports import OriginalStore
from pipeline.service import accounts
from pipeline.service.accounts import Principal
from pipeline.templates.schema import TemplateSpec

if TYPE_CHECKING:  # web only passes the handle on to pipeline.service
    from sqlalchemy.engine import Engine

SESSION_COOKIE = "blankett_session"
LOGIN_COOKIE = "blankett_login"


class NotSignedIn(Exception):
    pass


@dataclass(frozen=True)
class Env:
    """Everything the routes use, handed to ``create_app`` (nothing global)."""

    cfg: Config
    db: Engine
    specs: Mapping[tuple[str, int], TemplateSpec]  # (form id, version) -> spec
    originals: OriginalStore
    pages: Jinja2Templates

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.cfg.delivery.targets)

    def spec(self, form: str | None, version: int | None) -> TemplateSpec | None:
        return None if form is None else self.specs.get((form, version or 1))

    @property
    def forms(self) -> list[str]:
        return sorted({form for form, _ in self.specs})


def env_of(request: Request) -> Env:
    e: Env = request.app.state.env
    return e


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    ctx = {"who": getattr(request.state, "who", None), **context}
    return env_of(request).pages.TemplateResponse(
        request, name, ctx, status_code=status, headers=headers
    )


def who(request: Request) -> Principal:
    p = accounts.principal_for(env_of(request).db, request.cookies.get(SESSION_COOKIE))
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
    if not accounts.same_token(sent, p.csrf):
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
EnvDep = Annotated[Env, Depends(env_of)]


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


_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def login_cookie_missing(request: Request, cfg: Config) -> str:
    """Why the sign-in form's cookie did not come back, and what to do about it."""
    host = request.url.hostname or ""
    if (
        LOGIN_COOKIE not in request.cookies
        and request.url.scheme == "http"
        and cfg.web.secure_cookies
        and host not in _LOOPBACK
        and not host.endswith(".localhost")
    ):
        # Browsers keep Secure cookies from plain http only on localhost.
        return (
            f"This page was reached over plain http at {host}, and the browser does not "
            "send the sign-in cookie back over plain http (it is a Secure cookie). Reach "
            "the review UI over HTTPS, through a reverse proxy that terminates TLS; or, on "
            "a trusted network only, set web.secure_cookies: false in config.yaml and "
            "restart blankett serve."
        )
    return "The sign-in form expired. Reload the page and sign in again."
