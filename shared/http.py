"""Async HTTP client for calls between our apps: timeouts, bounded retries, request-id propagation."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from shared.metrics import STAGE_CALLS, STAGE_LATENCY, STAGE_REQUEST_BYTES
from shared.request_context import REQUEST_ID_HEADER, get_request_id
from shared.retry import RetryPolicy, send_with_retries

logger = logging.getLogger(__name__)

ResponseT = TypeVar("ResponseT", bound=BaseModel)


class StageError(Exception):
    """A stage call that did not give a usable answer. `status` is the stage's, when it answered."""

    def __init__(self, stage: str, reason: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage
        self.reason = reason  # timeout, unreachable, http_<status>, bad_response
        self.message = message
        self.status = status


class StageClient:
    """Posts pydantic models to one stage and parses its answer into another model."""

    def __init__(
        self,
        stage: str,
        base_url: str,
        *,
        timeout_s: float,
        retries: int = 1,
        backoff_s: float = 0.2,
        caller: str = "gateway",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.stage = stage
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.caller = caller
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s), limits=httpx.Limits(max_connections=100)
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(
        self,
        path: str,
        body: BaseModel,
        response_model: type[ResponseT],
        *,
        timeout_s: float | None = None,
        image: bytes | None = None,
    ) -> ResponseT:
        """POST `body` (JSON), or with `image` the multipart form of the visual stages; retry connection errors
        and retryable statuses; raise `StageError` otherwise."""
        headers = {}
        request_id = get_request_id()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        # Built once: every retry resends these bytes.
        content, headers["Content-Type"] = request_content(body, image)
        STAGE_REQUEST_BYTES.labels(self.caller, self.stage).inc(len(content))
        timeout = timeout_s or self.timeout_s
        started = time.perf_counter()
        url = f"{self.base_url}{path}"

        async def send(attempt_timeout: float | None) -> httpx.Response:
            return await self._client.post(url, content=content, headers=headers, timeout=attempt_timeout)

        try:
            # The timeout is the budget of the whole call, retries and waits included: the gateway hands each
            # stage what is left of the request's deadline, and a retry must not outlive it. httpx's timeouts
            # are per read, so `asyncio.timeout` holds the total; either way the connection is closed when it
            # expires, which is what tells the stage to stop (`shared.cancellation`).
            async with asyncio.timeout(timeout):
                response = await send_with_retries(send, self._policy(timeout), timeout_s=timeout, budget_s=timeout)
            parsed = self._parse(response, response_model)
        except (httpx.TimeoutException, TimeoutError):
            # A timed-out call is not retried: the deadline is spent.
            error = StageError(self.stage, "timeout", f"no answer within {timeout:.1f}s")
        except asyncio.CancelledError:
            # Our caller went away (its client disconnected): httpx has closed the connection, so the stage
            # cancels its work too. Counted, then passed on: a cancellation is not a stage failure.
            self._record("cancelled", started)
            raise
        except httpx.TransportError as exc:
            error = StageError(self.stage, "unreachable", f"{type(exc).__name__}: {exc}")
        except StageError as exc:
            error = exc
        else:
            self._record("ok", started)
            return parsed
        self._record(error.reason, started)
        logger.warning(
            "stage call failed", extra={"stage": self.stage, "reason": error.reason, "detail": error.message}
        )
        raise error

    def _policy(self, timeout_s: float) -> RetryPolicy:
        # Connection errors and busy/unavailable statuses are retried; a server's Retry-After is honoured up to
        # the call's timeout.
        return RetryPolicy(retries=self.retries, backoff_s=self.backoff_s, max_wait_s=timeout_s)

    def _parse(self, response: httpx.Response, response_model: type[ResponseT]) -> ResponseT:
        """The answer as `response_model`, or `StageError` for an error status (the last retryable one too)."""
        if response.status_code >= 400:
            raise StageError(self.stage, f"http_{response.status_code}", _error_message(response), response.status_code)
        try:
            return response_model.model_validate_json(response.content)
        except ValidationError as exc:
            raise StageError(self.stage, "bad_response", f"unexpected answer: {exc.error_count()} errors") from exc

    async def get_ok(self, path: str, timeout_s: float = 2.0) -> bool:
        try:
            response = await self._client.get(f"{self.base_url}{path}", timeout=timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _record(self, outcome: str, started: float) -> None:
        STAGE_CALLS.labels(self.caller, self.stage, outcome).inc()
        STAGE_LATENCY.labels(self.caller, self.stage).observe(time.perf_counter() - started)


def request_content(body: BaseModel, image: bytes | None = None) -> tuple[bytes, str]:
    """The body and its content type: `body` as JSON, or with `image` a `multipart/form-data` of a part
    `request` (that JSON) and a part `image` (the bytes as they are), which is what the visual stages read
    (`shared/protocol/visual.py`). Multipart rather than a binary body with the JSON in a header: the JSON
    (up to 64 expressions) can outgrow a header, and every HTTP tool and OpenAPI describe multipart."""
    params = body.model_dump_json(exclude_none=True).encode()
    if image is None:
        return params, "application/json"
    # 128 random bits: the chance that the boundary occurs inside the image bytes is negligible.
    boundary = os.urandom(16).hex()
    content = b"".join(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="request"\r\n'
            "Content-Type: application/json\r\n\r\n".encode(),
            params,
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="image"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode(),
            image,
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )
    return content, f"multipart/form-data; boundary={boundary}"


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("error", {}).get("message") or body.get("detail") or body)
    except ValueError:
        return response.text[:200]
