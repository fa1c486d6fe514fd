"""ASGI middleware for every app: request id, API keys, body limits, in-flight limit (429), metrics, access log."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.cancellation import Disconnect, Outcome, run_until_disconnect
from shared.errors import APIError, PayloadTooLarge, RequestTimeout, TooManyRequests
from shared.metrics import CANCELLED, IN_FLIGHT, KEY_REQUESTS, REJECTED, REQUEST_LATENCY, REQUESTS
from shared.request_context import REQUEST_ID_HEADER, new_request_id, reset_request_id, set_request_id

logger = logging.getLogger("gmner.access")

# Probes and scrapes are never refused and never logged per request.
UNLIMITED_PATHS = frozenset({"/health", "/ready", "/metrics"})

# A refused upload may still be streaming in: closing the connection spares reading the rest.
CLOSE = {"Connection": "close"}

# The access log's and the metrics' status of a request whose client left before its answer was complete
# (nginx's "client closed request"); the log line's `cancelled` says why ("disconnect" or "shutdown").
CLIENT_CLOSED = 499

# Off only to measure what cancellation saves (deploy/load/run_impatient.py): a request's work then runs to its
# end whether or not anyone still waits for it, as before cancellation existed. Read once, like the other knobs
# of this layer (shared/server.py).
CANCEL_ON_DISCONNECT = os.environ.get("GMNER_CANCEL_ON_DISCONNECT", "true").strip().lower() not in {
    "0",
    "false",
    "no",
    "off",
}


class Authenticator(Protocol):
    """Who is calling: a key's name, None where `path` is open, or `Unauthorized` / `Forbidden` raised."""

    def identify(self, path: str, headers: Mapping[str, str]) -> str | None: ...

    def key_limit(self) -> int: ...


class RequestMiddleware:
    """Order per request: key check (before any body byte is read), the whole body read under a size limit,
    an idle timeout and a minimum rate, and only then an in-flight slot. A client that trickles its body
    therefore holds a connection for at most the read timeout and never a slot."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        app_name: str,
        max_inflight: int,
        retry_after_s: int,
        max_body_bytes: int = 32 * 1024 * 1024,
        body_timeout_s: float = 15.0,
        min_upload_bytes_per_s: int = 8192,
        auth: Authenticator | None = None,
    ) -> None:
        self.app = app
        self.app_name = app_name
        self.max_inflight = max_inflight
        self.retry_after_s = retry_after_s
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.min_upload_bytes_per_s = min_upload_bytes_per_s
        self.auth = auth
        self.in_flight = 0
        self.in_flight_by_key: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = _clean_request_id(headers.get(REQUEST_ID_HEADER.lower())) or new_request_id()
        token = set_request_id(request_id)
        unlimited = path in UNLIMITED_PATHS
        key: str | None = None
        try:
            try:
                key = self.auth.identify(path, headers) if self.auth is not None else None
                if key is not None:
                    scope.setdefault("state", {})["api_key_name"] = key
                replay = receive
                disconnect: Disconnect | None = None
                if not unlimited:
                    disconnect = Disconnect() if CANCEL_ON_DISCONNECT else None
                    in_memory = await self._read_body(receive, headers, disconnect.receive if disconnect else receive)
                    if in_memory is None:
                        return  # the client went away while sending
                    replay = in_memory
                    self._check_capacity(key)
            except APIError as exc:
                # Not the raw path: a flood of random URLs must not mint unbounded label values.
                REQUESTS.labels(self.app_name, "rejected", scope["method"], str(exc.status_code)).inc()
                if key is not None:
                    KEY_REQUESTS.labels(self.app_name, key, str(exc.status_code)).inc()
                await self._refuse(send, request_id, exc)
                logger.warning(
                    "refused: %s",
                    exc.code,
                    extra={"path": path, "status": exc.status_code, **({"api_key": key} if key else {})},
                )
                return
            await self._serve(scope, replay, send, request_id, unlimited, key, receive, disconnect)
        finally:
            reset_request_id(token)

    def _check_capacity(self, key: str | None) -> None:
        """`TooManyRequests` when the app, or this caller's key, has no in-flight slot free."""
        retry_after = {"Retry-After": str(self.retry_after_s)}
        if self.in_flight >= self.max_inflight:
            REJECTED.labels(self.app_name).inc()
            raise TooManyRequests(
                "too_many_requests",
                f"{self.app_name} has {self.max_inflight} requests in flight; retry later.",
                headers=retry_after,
            )
        limit = self.auth.key_limit() if self.auth is not None else 0
        if key is not None and self.in_flight_by_key.get(key, 0) >= limit:
            REJECTED.labels(self.app_name).inc()
            raise TooManyRequests(
                "too_many_requests", f"key {key} has {limit} requests in flight; retry later.", headers=retry_after
            )

    async def _read_body(self, receive: Receive, headers: Mapping[str, str], after_body: Receive) -> Receive | None:
        """The whole body, or `PayloadTooLarge` / `RequestTimeout` raised; the app then reads it from memory, and
        after it `after_body` (what tells the app its client left)."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise PayloadTooLarge(
                "body_too_large",
                f"The request body is {declared} bytes; the limit is {self.max_body_bytes}.",
                headers=CLOSE,
            )
        chunks: list[bytes] = []
        size = 0
        started = time.monotonic()
        while True:
            # The allowance grows with what arrived: a client slower than the minimum rate falls behind it.
            allowed = self.body_timeout_s
            if self.min_upload_bytes_per_s > 0:
                allowed += size / self.min_upload_bytes_per_s
            wait = min(self.body_timeout_s, started + allowed - time.monotonic())
            try:
                if wait <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(receive(), wait)
            except TimeoutError:
                raise RequestTimeout(
                    "body_timeout",
                    f"The request body arrived too slowly ({size} bytes in {time.monotonic() - started:.0f}s; "
                    f"at least {self.min_upload_bytes_per_s} bytes/s after {self.body_timeout_s:.0f}s).",
                    headers=CLOSE,
                ) from None
            if message["type"] == "http.disconnect":
                return None
            body: bytes = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                raise PayloadTooLarge(
                    "body_too_large", f"The request body exceeds {self.max_body_bytes} bytes.", headers=CLOSE
                )
            if body:
                chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = b"".join(chunks)
        chunks.clear()
        sent = False

        async def replay() -> Message:
            nonlocal sent, whole
            if not sent:
                sent = True
                message: Message = {"type": "http.request", "body": whole, "more_body": False}
                whole = b""  # the app holds its own reference now; ours would double the memory
                return message
            return await after_body()  # http.disconnect, when the client goes away

        return replay

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: str,
        unlimited: bool,
        key: str | None,
        wire_receive: Receive,
        disconnect: Disconnect | None,
    ) -> None:
        """`receive` is what the app reads (the body from memory); `wire_receive` the connection, which after the
        body only says that the client left; with `disconnect` (every path but probes and scrapes) the app's
        work is cancelled then (`shared.cancellation`)."""
        status = 500
        complete = False
        cancelled: str | None = None
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, complete
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*list(message["headers"]), (REQUEST_ID_HEADER.encode(), request_id.encode())]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        if not unlimited:
            self.in_flight += 1
            IN_FLIGHT.labels(self.app_name).inc()
            if key is not None:
                self.in_flight_by_key[key] = self.in_flight_by_key.get(key, 0) + 1
        try:
            if disconnect is None:
                await self.app(scope, receive, send_with_id)
            else:
                outcome = await run_until_disconnect(
                    lambda: self.app(scope, receive, send_with_id), wire_receive, disconnect, lambda: complete
                )
                if outcome is Outcome.DISCONNECT:
                    cancelled = outcome.value
        except asyncio.CancelledError:
            cancelled = Outcome.SHUTDOWN.value
            raise
        finally:
            elapsed = time.perf_counter() - started
            if cancelled is not None:
                status = CLIENT_CLOSED
                CANCELLED.labels(self.app_name, cancelled).inc()
            if not unlimited:
                self.in_flight -= 1
                IN_FLIGHT.labels(self.app_name).dec()
                if key is not None:
                    left = self.in_flight_by_key.get(key, 1) - 1
                    if left:
                        self.in_flight_by_key[key] = left
                    else:
                        self.in_flight_by_key.pop(key, None)
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(self.app_name, route_path, scope["method"], str(status)).inc()
            REQUEST_LATENCY.labels(self.app_name, route_path).observe(elapsed)
            if key is not None:
                KEY_REQUESTS.labels(self.app_name, key, str(status)).inc()
            if not unlimited:
                extra: dict[str, object] = {
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 1),
                }
                if key is not None:
                    extra["api_key"] = key  # the key's name; the key itself is never logged
                if cancelled is not None:
                    extra["cancelled"] = cancelled
                logger.info("request", extra=extra)

    async def _refuse(self, send: Send, request_id: str, exc: APIError) -> None:
        body = exc.to_response(self.app_name).model_dump_json().encode()
        await send(
            {
                "type": "http.response.start",
                "status": exc.status_code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                    (b"content-length", str(len(body)).encode()),
                    *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers.items()),
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
