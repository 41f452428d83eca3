"""The departments' query API (``envlake serve``): their datasets, rows of one, or their own SQL, over HTTP.

Every call but ``/health`` and the docs carries ``Authorization: Bearer <token>`` (``envlake access
add-department`` prints it). Rows come as JSON, CSV or Arrow IPC (CSV and Arrow streamed by record batch),
within the byte cap. The OpenAPI spec is at ``/openapi.json``, the docs at ``/docs`` and ``/redoc``, their
scripts served from the ``fastapi-offline`` package: no CDN, which a government network does not reach.

Whatever ends a request, it is audited: a body above ``ENVLAKE_ACCESS_MAX_QUERY_BYTES`` (a short 400 that
does not echo it), an invalid request (422), a refusal, and an error of the service itself (one line, no
traceback, 500).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from envlake.access.audit import KEPT_CHARS
from envlake.access.engine import QueryFailed, QueryTimeout, SessionUnsafe
from envlake.access.published_datasets import NothingPublished
from envlake.access.render import ARROW_MEDIA_TYPE, CSV_MEDIA_TYPE, JSON_MEDIA_TYPE, Format
from envlake.access.service import AccessService, BadRequest, InternalError, NotFound, Refused, Result, Unauthorized
from envlake.access.sqlguard import SETTING_BYTES
from envlake.access.store import Department

DOCS_ASSETS = "/docs-assets"
PARSE_CEILING = 4 * 1024 * 1024  # an oversized body up to this size is read as JSON, to audit its query's digest
log = logging.getLogger(__name__)


class Problem(BaseModel):
    detail: str


class QueryRequest(BaseModel):
    sql: str = Field(description="One SELECT over your datasets (GET /datasets lists them); the whole body is at "
                                 f"most {SETTING_BYTES} bytes (64 KB unless set)")
    clear: bool = Field(False, description="Refuse, rather than mask, conditional columns you hold no grant for")
    limit: int | None = Field(None, ge=1, description="At most this many rows (the service's own limit caps it)")
    format: Format = "json"


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The request is wrong: unknown column, malformed filter, bad value; or a "
                                           "body, a query or an answer beyond the limits"},
    401: {"model": Problem, "description": "No token, or a wrong one"},
    403: {"model": Problem, "description": "Refused: no grant in force, or SQL that is not allowed"},
    404: {"model": Problem, "description": "No such dataset among yours"},
    422: {"model": Problem, "description": "The query ran past its time limit, or the parameters are invalid"},
    503: {"model": Problem, "description": "Nothing is published yet, or the service will not open a session"},
}
ROWS = {200: {"description": "Rows as JSON, CSV or Arrow IPC stream",
              "content": {JSON_MEDIA_TYPE: {}, "text/csv": {}, ARROW_MEDIA_TYPE: {}}}}


def _respond(result: Result) -> Response:
    rendered = result.rendered
    if rendered is None:
        raise InternalError("the service returned rows without rendering them")
    headers = {"X-Envlake-Rows": str(result.table.num_rows), "X-Envlake-Truncated": str(result.truncated).lower()}
    if rendered.media_type in (CSV_MEDIA_TYPE, ARROW_MEDIA_TYPE):
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in rendered:
                yield chunk
        return StreamingResponse(chunks(), media_type=rendered.media_type, headers=headers)
    return Response(rendered.body(), media_type=rendered.media_type, headers=headers)


bearer = HTTPBearer(auto_error=False, description="The department's token from `envlake access add-department`")


def current_department(request: Request,
                       credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Department:
    service: AccessService = request.app.state.service
    return service.authenticate(credentials.credentials if credentials else None)


Dept = Annotated[Department, Depends(current_department)]


def _token(headers: list[tuple[bytes, bytes]] | Any) -> str | None:
    for name, value in headers:
        key = name.decode("latin-1").lower() if isinstance(name, bytes) else str(name).lower()
        if key == "authorization":
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            scheme, _, token = text.partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def _action(path: str) -> str:
    return "query" if path.rstrip("/") == "/query" else "fetch" if path.endswith("/rows") else "request"


def _sent_query(body: bytes | Any) -> tuple[str, str | None]:
    """The query of a body, as (text, digest of the text): its ``sql`` when it is JSON with one, else the body
    itself (decoded for reading, digested as sent)."""
    if isinstance(body, dict):
        sql = body.get("sql")
        return (sql, None) if isinstance(sql, str) else (json.dumps(body, ensure_ascii=False)[:2 * KEPT_CHARS], None)
    if not isinstance(body, (bytes, bytearray)):
        return "", None
    try:
        sql = json.loads(body).get("sql")
        if isinstance(sql, str):
            return sql, None
    except (ValueError, AttributeError, RecursionError):
        pass
    return body.decode("utf-8", "replace"), hashlib.sha256(body).hexdigest()


class RequestGuard:
    """The outermost layer: refuses a body above the limit before anything parses it, and turns any error the
    service did not handle into one audited line (500, no traceback)."""

    def __init__(self, app: ASGIApp, service: AccessService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            if scope.get("method") in ("POST", "PUT", "PATCH"):
                body, refused = await self._body(scope, receive, tracking_send)
                if refused:
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # the last wall: one line out, one audit row in
            if isinstance(exc, InternalError):
                detail = str(exc)
            else:
                request_id = self.service.record_refusal(_token(scope.get("headers", [])), _action(scope["path"]),
                                                         "failed", f"internal error: {type(exc).__name__}")
                log.error("access request %s failed", request_id, exc_info=exc)
                detail = f"internal error (request {request_id}): the audit records it"
            if not started:
                await JSONResponse({"detail": detail}, status_code=500)(scope, receive, send)

    async def _body(self, scope: Scope, receive: Receive, send: Send) -> tuple[bytes, bool]:
        """The whole body, and whether it was refused (answered already) for its size."""
        limit = self.service.engine.limits.max_query_bytes
        kept = bytearray()
        digest = hashlib.sha256()
        size = 0
        tail = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            digest.update(chunk)
            if len(kept) <= PARSE_CEILING:
                kept.extend(chunk)
            tail = (tail + chunk)[-4 * KEPT_CHARS:]
            if not message.get("more_body", False):
                break
        if size <= limit:
            return bytes(kept), False
        if size <= PARSE_CEILING:
            text, text_digest = _sent_query(bytes(kept))
        else:  # too large to read as JSON: its first and last bytes, and the digest of all of it
            text = (bytes(kept[:4 * KEPT_CHARS]) + b"\n...\n" + tail).decode("utf-8", "replace")
            text_digest = digest.hexdigest()
        reason = f"request body of {size:,} bytes is above the limit of {limit:,} ({SETTING_BYTES})"
        self.service.record_refusal(_token(scope.get("headers", [])), _action(scope["path"]), "refused", reason,
                                    text, text_digest)
        await JSONResponse({"detail": reason}, status_code=400)(scope, receive, send)
        return b"", True


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read already, then the client's own messages (a streamed answer listens for its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _validation_reason(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}"[:200])
    return "invalid request: " + "; ".join(parts)


def _docs(app: FastAPI) -> None:
    """/docs and /redoc with their scripts from the fastapi-offline package."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{title} — API",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
                                   oauth2_redirect_url="/docs/oauth2-redirect",
                                   swagger_ui_parameters={"validatorUrl": None})

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{title} — ReDoc",
                              redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png", with_google_fonts=False)


def _problem(status: int, exc: Exception, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


def _handlers(app: FastAPI, service: AccessService) -> None:
    """Each refusal its status; an invalid request or an HTTP error of the framework audited too."""
    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        reason = _validation_reason(exc)
        text, digest = _sent_query(exc.body) if _action(request.url.path) == "query" else (str(request.url.query), None)
        service.record_refusal(_token(request.headers.items()), _action(request.url.path), "refused", reason,
                               text, digest)
        return JSONResponse({"detail": reason}, status_code=422)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        service.record_refusal(_token(request.headers.items()), _action(request.url.path), "refused",
                               f"{exc.status_code}: {str(exc.detail)[:200]}", request.url.path)
        return await http_exception_handler(request, exc)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Unauthorized, lambda r, e: _problem(401, e, {"WWW-Authenticate": "Bearer"}))
    app.add_exception_handler(Refused, lambda r, e: _problem(403, e))
    app.add_exception_handler(NotFound, lambda r, e: _problem(404, e))
    app.add_exception_handler(BadRequest, lambda r, e: _problem(400, e))
    app.add_exception_handler(QueryFailed, lambda r, e: _problem(400, e))
    app.add_exception_handler(QueryTimeout, lambda r, e: _problem(422, e))
    app.add_exception_handler(NothingPublished, lambda r, e: _problem(503, e))
    app.add_exception_handler(SessionUnsafe, lambda r, e: _problem(503, e))
    app.add_exception_handler(InternalError, lambda r, e: _problem(500, e))
    app.add_exception_handler(ValueError, lambda r, e: _problem(400, e))


def create_app(service: AccessService) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.audit.start()
        yield
        service.audit.stop()
        service.engine.close()

    app = FastAPI(title="envlake 共享数据查询服务", version="1.0",
                  description="Shared eco-environment datasets for Hangzhou's departments: 无条件共享 columns for "
                              "all, 有条件共享 columns in the clear only under an approved grant, every request "
                              "audited.", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.service = service
    app.add_middleware(RequestGuard, service=service)
    _docs(app)

    _handlers(app, service)

    @app.get("/health", summary="Is the service up, and which version is published")
    def health() -> dict[str, Any]:
        try:
            return {"status": "ok", "published_version": service.published.get().version}
        except NothingPublished:
            return {"status": "ok", "published_version": None}

    @app.get("/me", summary="The calling department and its grants", responses=ERRORS)
    def me(dept: Dept) -> dict[str, Any]:
        return {"department": dept.code, "name_zh": dept.name_zh,
                "grants": [g.as_dict() for g in service.store.grants(dept.code)]}

    @app.get("/datasets", summary="The shared datasets this department may read, with their catalogue entries",
             responses=ERRORS)
    def datasets(dept: Dept) -> dict[str, Any]:
        return service.list_datasets(dept)

    @app.get("/datasets/{dataset}", summary="One dataset: catalogue entry and each column's access",
             responses=ERRORS)
    def dataset(dept: Dept, dataset: str) -> dict[str, Any]:
        return service.describe(dept, dataset)

    @app.get("/datasets/{dataset}/rows", summary="Rows of a shared dataset", responses={**ROWS, **ERRORS},
             response_class=Response)
    def rows(dept: Dept, dataset: str,
             columns: Annotated[list[str] | None,
                                Query(description="Columns to return (repeat, or comma-separated)")] = None,
             filter: Annotated[list[str] | None, Query(description="<column><op><value>, op one of = != > >= < <= ~ "
                                                                   "(~ is a case-insensitive contains)")] = None,
             order_by: Annotated[list[str] | None,
                                 Query(description="Columns to sort by, -column for descending")] = None,
             limit: Annotated[int, Query(ge=1, le=1_000_000)] = 1000,
             offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
             format: Format = "json",
             clear: Annotated[bool, Query(description="Refuse rather than mask conditional columns "
                                                      "without a grant")] = False) -> Response:
        split = [c.strip() for item in columns or [] for c in item.split(",") if c.strip()]
        return _respond(service.fetch(dept, dataset, split or None, filter, order_by, limit, offset, clear,
                                      fmt=format))

    @app.post("/query", summary="Run one read-only SELECT over this department's datasets",
              responses={**ROWS, **ERRORS}, response_class=Response)
    def query(dept: Dept, body: QueryRequest) -> Response:
        return _respond(service.query(dept, body.sql, body.clear, body.limit, fmt=body.format))

    return app
