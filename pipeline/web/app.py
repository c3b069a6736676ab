"""The web app: ``create_app`` builds it from what it is given; nothing is created at
import time. Who may do what is in ``deps``; the pages and actions in ``routes``."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

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
