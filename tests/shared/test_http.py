"""StageClient: retries, timeouts, request-id propagation (against a fake transport)."""

from __future__ import annotations

import httpx
import pytest

from shared.http import StageClient, StageError
from shared.protocol.common import HealthResponse
from shared.request_context import reset_request_id, set_request_id


def client_for(handler, retries: int = 1) -> StageClient:
    transport = httpx.MockTransport(handler)
    return StageClient(
        "ner",
        "http://stage.test",
        timeout_s=1.0,
        retries=retries,
        backoff_s=0.0,
        client=httpx.AsyncClient(transport=transport),
    )


async def test_retries_503_then_succeeds_and_propagates_request_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, json={"error": {"message": "warming up"}})
        return httpx.Response(200, json={"status": "ok", "app": "ner"})

    token = set_request_id("req-123")
    try:
        result = await client_for(handler).post("/x", HealthResponse(status="a", app="b"), HealthResponse)
    finally:
        reset_request_id(token)
    assert result.app == "ner"
    assert len(seen) == 2
    assert all(r.headers["X-Request-ID"] == "req-123" for r in seen)


async def test_client_error_is_not_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, json={"error": {"code": "empty_text", "message": "`text` is empty."}})

    with pytest.raises(StageError) as info:
        await client_for(handler, retries=3).post("/x", HealthResponse(status="a", app="b"), HealthResponse)
    assert len(calls) == 1
    assert info.value.status == 400 and info.value.message == "`text` is empty."


async def test_retries_are_bounded() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused")

    with pytest.raises(StageError) as info:
        await client_for(handler, retries=2).post("/x", HealthResponse(status="a", app="b"), HealthResponse)
    assert len(calls) == 3
    assert info.value.reason == "unreachable"


async def test_timeout_is_reported_and_not_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("slow")

    with pytest.raises(StageError) as info:
        await client_for(handler, retries=2).post("/x", HealthResponse(status="a", app="b"), HealthResponse)
    assert len(calls) == 1 and info.value.reason == "timeout"


async def test_unexpected_answer_is_a_bad_response() -> None:
    with pytest.raises(StageError) as info:
        await client_for(lambda r: httpx.Response(200, json={"nope": 1})).post(
            "/x", HealthResponse(status="a", app="b"), HealthResponse
        )
    assert info.value.reason == "bad_response"


async def test_a_retry_that_would_outlast_the_call_timeout_is_not_made() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, headers={"Retry-After": "5"}, json={"error": {"message": "busy"}})

    # The call's timeout (1 s here; in the gateway, what is left of the request's deadline) bounds its retries too.
    with pytest.raises(StageError) as info:
        await client_for(handler, retries=3).post("/x", HealthResponse(status="a", app="b"), HealthResponse)
    assert len(calls) == 1
    assert (info.value.reason, info.value.status) == ("http_503", 503)


async def test_retry_after_is_honoured_and_each_attempt_gets_the_rest_of_the_budget() -> None:
    timeouts: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["read"])
        if len(timeouts) == 1:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"message": "busy"}})
        return httpx.Response(200, json={"status": "ok", "app": "ner"})

    result = await client_for(handler).post("/x", HealthResponse(status="a", app="b"), HealthResponse, timeout_s=0.8)
    assert result.app == "ner"
    assert len(timeouts) == 2 and all(0 < t <= 0.8 for t in timeouts)
