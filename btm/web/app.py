"""The ``btm serve`` application: a Starlette app behind the security middleware.

:func:`create_app` builds it from a workspace folder and a token; :mod:`btm.web.server` runs it
with uvicorn. Pages are server-rendered (Jinja2, autoescaped) and work without JavaScript; the
JSON API under ``/api/`` is the contract for scripts (README: "btm serve").
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from .. import __version__
from . import views
from .jobs import Busy, JobPool
from .security import BodyLimit, Guard, TooLarge, check_csrf, csrf_token
from .service import Service, Settings, UploadRejected
from .store import UPLOAD_SUFFIXES, Store

__all__ = ["create_app"]

HERE = Path(__file__).resolve().parent
FORM_SLACK = 1024 * 1024  # form fields and multipart framing on top of the files


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,  # every value is escaped; nothing from a cell is ever marked safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=views.fmt_num, pct=views.fmt_pct, cite=views.cite, pval=views.fmt_p, when=views.fmt_time, pretty=views.pretty,
        role=views.role_label, audit_text=views.audit_text,
    )
    env.globals.update(version=__version__, ROLE_LABELS=views.ROLE_LABELS, STATE_LABELS=views.STATE_LABELS,
                       DIRECTION_LABELS=views.DIRECTION_LABELS, fix_for=views.fix_for, accepted=", ".join(UPLOAD_SUFFIXES))
    return Jinja2Templates(env=env)


class Web:
    """Everything a request handler needs: the service, the templates, the token."""

    def __init__(self, service: Service, token: str, data_dir: Path) -> None:
        self.service = service
        self.store = service.store
        self.token = token
        self.data_dir = data_dir
        self.templates = _templates()

    def csrf(self) -> str:
        return csrf_token(self.token)

    def page(self, request: Request, name: str, context: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
        ctx = {"csrf": self.csrf(), "data_dir": str(self.data_dir), "max_upload": self.service.settings.max_upload_mb, "refresh": False, **context}
        resp = self.templates.TemplateResponse(request, name, ctx, status_code=status, headers=headers)
        resp.headers["cache-control"] = "no-store"
        return resp

    async def form(self, request: Request, *, csrf: bool = True) -> Any:
        """The request's form (files spooled to disk by python-multipart), CSRF-checked."""
        try:
            form = await request.form(max_files=self.service.settings.max_files + 4, max_fields=3000, max_part_size=1024 * 1024)
        except HTTPException:
            raise
        except TooLarge:
            raise
        if csrf and not check_csrf(request.scope.get("state", {}), form.get("csrf_token") or request.headers.get("x-csrf-token"), self.token):
            await form.close()
            raise HTTPException(403, "the form has expired or came from another site (CSRF check failed); reload the page and try again")
        return form


def ctx_of(request: Request) -> tuple[Web, Store, Service]:
    """The web state of a request: (web, store, service)."""
    web: Web = request.app.state.web
    return web, web.store, web.service


def study_or_404(store: Store, sid: str) -> dict[str, Any]:
    s = store.study(sid)
    if s is None:
        raise HTTPException(404, f"no study {sid!r} in this workspace (it may be in another --data folder)")
    return s


def download(path: Path, filename: str, media_type: str) -> Response:
    if not path.is_file():
        raise HTTPException(404, "the file is not there (yet)")
    return FileResponse(path, media_type=media_type, filename=filename, content_disposition_type="attachment",
                        headers={"cache-control": "no-store", "x-content-type-options": "nosniff"})


def safe_filename(title: str, suffix: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", title).strip("._")[:60] or "btm"
    return base + suffix


def create_app(
    data_dir: str | Path,
    *,
    token: str,
    allowed_hosts: tuple[str, ...] | list[str] = (),
    max_upload_mb: float = 200.0,
    workers: int | None = None,
    job_timeout: float = 900.0,
    cookie_name: str = "btm_token",
    warm_workers: bool = True,
) -> Any:
    """The ASGI application of ``btm serve``.

    Parameters
    ----------
    data_dir
        The workspace folder (created if missing).
    token
        The access token (``Authorization: Bearer TOKEN``, or ``?token=`` once, then a cookie).
    allowed_hosts
        Host names accepted in the ``Host`` header besides localhost, 127.0.0.1 and [::1].
    max_upload_mb
        Largest request body; larger uploads get 413 before they are read.
    workers, job_timeout
        Size of the worker pool and the longest a job may run (seconds).
    cookie_name
        Name of the session cookie (one per port, so two servers do not overwrite each other's).
    """
    from . import api, pages

    store = Store(data_dir)
    pool = JobPool(workers=workers, timeout=job_timeout, warm=warm_workers)
    service = Service(store, pool, Settings(max_upload_mb=max_upload_mb))
    web = Web(service, token, store.root)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        store.fail_interrupted_runs()
        pool.start()
        for f in store.interrupted_files():
            service.schedule_check(f["study_id"], f["id"])
        try:
            yield
        finally:
            await service.close()
            pool.close()

    async def on_upload_rejected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UploadRejected)
        return error_response(web, request, exc.status, str(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error_response(web, request, exc.status_code, str(exc.detail))

    async def on_busy(request: Request, exc: Exception) -> Response:
        return error_response(web, request, 503, f"the server is busy: {exc}")

    async def on_too_large(request: Request, exc: Exception) -> Response:
        resp = error_response(web, request, 413, f"the upload is larger than {max_upload_mb:g} MB; split it into smaller files or restart btm serve with --max-upload MB")
        resp.headers["connection"] = "close"
        return resp

    routes = [
        *api.ROUTES,
        *pages.ROUTES,
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes, lifespan=lifespan,
        exception_handlers={UploadRejected: on_upload_rejected, HTTPException: on_http, Busy: on_busy, TooLarge: on_too_large},
    )
    app.state.web = web
    limited = BodyLimit(app, max_bytes=int(max_upload_mb * 1024**2) + FORM_SLACK, limit_mb=max_upload_mb)
    guarded = Guard(limited, token=token, allowed_hosts=allowed_hosts, cookie_name=cookie_name)
    guarded.web = web  # type: ignore[attr-defined]  # for tests and the server
    return guarded


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def error_response(web: Web, request: Request, status: int, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=status, headers={"cache-control": "no-store"})
    titles = {400: "Something is missing", 403: "Not allowed", 404: "Not found", 409: "Not ready", 413: "File too large",
              415: "Not a spreadsheet", 422: "Cannot use this", 503: "Busy"}
    return web.page(request, "error.html", {"title": titles.get(status, "Error"), "message": message, "status": status}, status=status)
