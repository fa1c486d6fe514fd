"""ASGI middleware for every app: request id, in-flight limit (429), metrics, one log line per request."""

from __future__ import annotations

import json
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import IN_FLIGHT, REJECTED, REQUEST_LATENCY, REQUESTS
from shared.request_context import REQUEST_ID_HEADER, new_request_id, reset_request_id, set_request_id

logger = logging.getLogger("gmner.access")

# Probes and scrapes are never refused and never logged per request.
UNLIMITED_PATHS = frozenset({"/health", "/ready", "/metrics"})


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, app_name: str, max_inflight: int, retry_after_s: int) -> None:
        self.app = app
        self.app_name = app_name
        self.max_inflight = max_inflight
        self.retry_after_s = retry_after_s
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = _clean_request_id(headers.get(REQUEST_ID_HEADER.lower())) or new_request_id()
        token = set_request_id(request_id)
        unlimited = path in UNLIMITED_PATHS
        try:
            if not unlimited and self.in_flight >= self.max_inflight:
                REJECTED.labels(self.app_name).inc()
                # Not the raw path: a flood of random URLs must not mint unbounded label values.
                REQUESTS.labels(self.app_name, "rejected", scope["method"], "429").inc()
                await self._reject(send, request_id)
                logger.warning("rejected: too many requests in flight", extra={"path": path, "status": 429})
                return
            await self._serve(scope, receive, send, request_id, unlimited)
        finally:
            reset_request_id(token)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, request_id: str, unlimited: bool) -> None:
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*list(message["headers"]), (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        if not unlimited:
            self.in_flight += 1
            IN_FLIGHT.labels(self.app_name).inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            if not unlimited:
                self.in_flight -= 1
                IN_FLIGHT.labels(self.app_name).dec()
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(self.app_name, route_path, scope["method"], str(status)).inc()
            REQUEST_LATENCY.labels(self.app_name, route_path).observe(elapsed)
            if not unlimited:
                logger.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "latency_ms": round(elapsed * 1000, 1),
                    },
                )

    async def _reject(self, send: Send, request_id: str) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "too_many_requests",
                    "message": f"{self.app_name} has {self.max_inflight} requests in flight; retry later.",
                    "stage": self.app_name,
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", str(self.retry_after_s).encode()),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _clean_request_id(value: str | None) -> str | None:
    """Accept a caller's id only if it is short and printable, so it is safe in logs and headers."""
    if not value:
        return None
    value = value.strip()
    if 0 < len(value) <= 128 and all(c.isalnum() or c in "-_.:" for c in value):
        return value
    return None
