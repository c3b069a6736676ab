"""The web app: ``create_app`` builds it from what it is given; nothing is created at
import time. Who may do what is in ``deps``; the pages and actions in ``routes``; the
strict headers on every answer, errors included, in ``SecurityHeaders`` here."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.config import Config
from pipeline.errors import StateError
from pipeline.ports import OriginalStore
from pipeline.templates.schema import TemplateSpec
from pipeline.web.deps import Env, NotSignedIn, render
from pipeline.web.routes import router

if TYPE_CHECKING:  # web only passes the handle on to pipeline.service
    from sqlalchemy.engine import Engine


def create_app(
    cfg: Config,
    db: Engine,
    specs: Mapping[tuple[str, int], TemplateSpec],
    originals: OriginalStore,
) -> FastAPI:
    app = FastAPI(title="blankett review", docs_url=None, redoc_url=None, openapi_url=None)
    web_root = Path(str(files("pipeline.web")))
    pages = Jinja2Templates(directory=str(web_root / "html"))
    app.state.env = Env(cfg, db, specs, originals, pages)
    app.mount("/static", StaticFiles(directory=str(web_root / "static")), name="static")
    app.include_router(router)
    app.add_middleware(SecurityHeaders)

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

    return app


_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"
    ),
}
_FAILED = (
    "<!doctype html><title>Error · blankett</title><h1>Something went wrong</h1>"
    "<p>The error is in the service log. Reload the page to try again.</p>"
)


class SecurityHeaders:
    """The strict headers on every answer, error pages included (plain ASGI, so they are
    set on the way out whatever made the answer). An exception no handler took becomes a
    500 page with them here, then goes on up to the server, which logs it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        private = path != "/login" and not path.startswith("/static/")
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers.setdefault(name, value)
                if private:
                    headers.setdefault("Cache-Control", "no-store")  # personal data
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:
                await HTMLResponse(_FAILED, status_code=500)(scope, receive, send_with_headers)
            raise


def server_options(cfg: Config) -> dict[str, Any]:
    """uvicorn's options for this config. X-Forwarded-For and -Proto are believed only
    from ``web.trusted_proxies``: otherwise anyone who can reach the port (any local user,
    whatever uvicorn trusts by default) could name the client address the sign-in
    throttle counts, and lock another person out or guess without limit."""
    proxies = cfg.web.trusted_proxies
    return {
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": ",".join(proxies) if proxies else "",
        "log_level": "warning",
        "access_log": False,
    }
