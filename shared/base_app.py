"""Builds a FastAPI app with what every app of ours has: errors, /health, /ready, /metrics, middleware."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import (
    APIError,
    InternalError,
    InvalidInput,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
)
from shared.logs import configure_logging
from shared.middleware import Authenticator, RequestMiddleware
from shared.protocol.common import ErrorResponse, HealthResponse, ReadyResponse
from shared.request_body import describe_errors
from shared.settings import AppSettings

logger = logging.getLogger(__name__)

# A readiness probe returns {check name: "ok", "degraded: <why>" or a failure reason}. The app is ready
# when every check is ok or degraded (a soft dependency such as the LLM cache may be down).
ReadinessProbe = Callable[[FastAPI], Awaitable[dict[str, str]]]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Bad input"},
    408: {"model": ErrorResponse, "description": "The request body arrived too slowly"},
    413: {"model": ErrorResponse, "description": "Input too large"},
    415: {"model": ErrorResponse, "description": "Unsupported media"},
    422: {"model": ErrorResponse, "description": "Invalid request body"},
    429: {"model": ErrorResponse, "description": "Too many requests in flight"},
    503: {"model": ErrorResponse, "description": "A dependency is unavailable"},
}


def create_base_app(
    *,
    name: str,
    settings: AppSettings,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    readiness: ReadinessProbe,
    description: str = "",
    auth: Authenticator | None = None,
) -> FastAPI:
    configure_logging(name, settings.log_level, settings.log_json)
    app = FastAPI(
        title=f"gmner {name}",
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    app.state.settings = settings
    app.state.app_name = name
    app.add_middleware(
        RequestMiddleware,
        app_name=name,
        max_inflight=settings.max_inflight,
        retry_after_s=settings.retry_after_s,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_s=settings.body_timeout_s,
        min_upload_bytes_per_s=settings.min_upload_bytes_per_s,
        auth=auth,
    )
    _add_error_handlers(app, name)

    @app.get("/health", response_model=HealthResponse, tags=["ops"])
    async def health() -> HealthResponse:
        return HealthResponse(status="ok", app=name)

    @app.get("/ready", response_model=ReadyResponse, tags=["ops"], responses={503: {"model": ReadyResponse}})
    async def ready() -> Response:
        try:
            checks = await readiness(app)
        except Exception as exc:  # a probe must answer, whatever broke
            checks = {"probe": f"error: {exc}"}
        ok = bool(checks) and all(v == "ok" or v.startswith("degraded") for v in checks.values())
        body = ReadyResponse(ready=ok, app=name, checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def error_json(exc: APIError, default_stage: str) -> JSONResponse:
    """The `ErrorResponse` of `exc`, with its status and headers; `default_stage` names this app."""
    body = exc.to_response(default_stage).model_dump()
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers or None)


def from_http_exception(exc: StarletteHTTPException) -> APIError:
    """FastAPI's own errors (404, 405, a body it cannot decode) as ours, so they answer in the documented format."""
    message = str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 400:
        return InvalidInput("malformed_json", message, headers=headers)
    if exc.status_code == 404:
        return NotFound("not_found", message, headers=headers)
    if exc.status_code == 405:
        return MethodNotAllowed("method_not_allowed", message, headers=headers)
    return APIError(exc.status_code, f"http_{exc.status_code}", message, headers=headers)


def from_validation_error(exc: RequestValidationError) -> InvalidRequest:
    errors = exc.errors()
    code = "malformed_json" if any(e.get("type") == "json_invalid" for e in errors) else "invalid_request"
    return InvalidRequest(code, describe_errors(errors))


def _add_error_handlers(app: FastAPI, name: str) -> None:
    @app.exception_handler(APIError)
    async def api_error(_: Request, exc: APIError) -> JSONResponse:
        return error_json(exc, name)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_json(from_http_exception(exc), name)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_json(from_validation_error(exc), name)

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        return error_json(InternalError("internal_error", type(exc).__name__), name)
