"""Typed errors: one table gives each its status, and every error any app answers is an `ErrorResponse`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from shared.base_app import create_base_app
from shared.errors import (
    HTTP_STATUS,
    APIError,
    DomainError,
    InvalidInput,
    InvalidRequest,
    PayloadTooLarge,
    ServiceUnavailable,
    StageUnavailable,
    TooManyRequests,
    Unauthorized,
    http_status,
)
from shared.middleware import RequestMiddleware
from shared.protocol.common import ErrorResponse
from shared.settings import AppSettings


def all_error_types(base: type[DomainError] = DomainError) -> list[type[DomainError]]:
    found = []
    for sub in base.__subclasses__():
        found += [sub, *all_error_types(sub)]
    return found


# Only the types defined in shared.errors (tests below define throwaway subclasses of their own).
ERROR_TYPES = [t for t in all_error_types() if t.__module__ == "shared.errors"]


class Body(BaseModel):
    n: int


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    async def readiness(_: FastAPI) -> dict[str, str]:
        return {"model": "ok"}

    app = create_base_app(name="tiny", settings=AppSettings(max_inflight=4), lifespan=lifespan, readiness=readiness)

    @app.get("/raise/{name}")
    async def raise_error(name: str) -> None:
        error_type = next(t for t in ERROR_TYPES if t.__name__ == name)
        raise error_type(f"code_{name.lower()}", f"a {name}", headers={"X-Why": name})

    @app.get("/relay")
    async def relay() -> None:
        raise APIError(418, "teapot", "relayed as it came", stage="upstream")

    @app.get("/bug")
    async def bug() -> None:
        raise KeyError("secret detail")

    @app.post("/typed")
    async def typed(body: Body) -> Body:
        return body

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_every_error_type_has_a_status_from_the_table() -> None:
    assert ERROR_TYPES, "no error types found"
    for error_type in ERROR_TYPES:
        status = http_status(error_type)
        assert 400 <= status < 600
        listed = next(cls for cls in error_type.__mro__ if cls in HTTP_STATUS)
        assert status == HTTP_STATUS[listed]
    # Kinds of 503 share their parent's entry.
    assert http_status(StageUnavailable) == HTTP_STATUS[ServiceUnavailable] == 503


def test_a_type_outside_the_table_is_refused_where_it_is_raised() -> None:
    class Unlisted(DomainError):
        pass

    with pytest.raises(TypeError, match="HTTP_STATUS"):
        Unlisted("x", "y")


@pytest.mark.parametrize("error_type", ERROR_TYPES, ids=lambda t: t.__name__)
def test_every_error_type_answers_an_error_response(client: TestClient, error_type: type[DomainError]) -> None:
    response = client.get(f"/raise/{error_type.__name__}")
    assert response.status_code == http_status(error_type)
    body = ErrorResponse.model_validate(response.json())
    assert body.model_dump() == {
        "error": {"code": f"code_{error_type.__name__.lower()}", "message": f"a {error_type.__name__}", "stage": "tiny"}
    }
    assert response.headers["X-Why"] == error_type.__name__  # the raise site's headers travel
    assert response.headers["X-Request-ID"]


def test_a_type_brings_its_own_headers() -> None:
    assert Unauthorized("api_key_required", "send a key").headers == {"WWW-Authenticate": "Bearer"}
    assert TooManyRequests("busy", "later", headers={"Retry-After": "2"}).headers == {"Retry-After": "2"}


def test_a_relayed_status_keeps_its_stage(client: TestClient) -> None:
    response = client.get("/relay")
    assert response.status_code == 418
    assert ErrorResponse.model_validate(response.json()).error.stage == "upstream"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("get", "/nowhere", {}, 404, "not_found"),
        ("delete", "/typed", {}, 405, "method_not_allowed"),
        ("post", "/typed", {"json": {"n": "many"}}, 422, "invalid_request"),
        ("post", "/typed", {"content": b'{"n": ', "headers": {"content-type": "application/json"}}, 422,
         "malformed_json"),
        ("get", "/bug", {}, 500, "internal_error"),
    ],
)  # fmt: skip
def test_framework_errors_and_bugs_answer_an_error_response(
    client: TestClient, method: str, path: str, kwargs: dict, status: int, code: str
) -> None:
    response = client.request(method.upper(), path, **kwargs)
    assert response.status_code == status
    body = ErrorResponse.model_validate(response.json())
    assert (body.error.code, body.error.stage) == (code, "tiny")
    assert "secret detail" not in response.text  # a bug's details stay in the log


async def test_middleware_refusals_answer_an_error_response() -> None:
    release = asyncio.Event()

    async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await release.wait()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = RequestMiddleware(app, app_name="tiny", max_inflight=1, retry_after_s=3, max_body_bytes=1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as http:
        too_large = await http.post("/x", content=b"x" * 2048)
        first = asyncio.create_task(http.post("/x", content=b"hi"))
        while middleware.in_flight == 0:
            await asyncio.sleep(0.01)
        busy = await http.post("/x", content=b"hi")
        release.set()
        assert (await first).status_code == 204
    assert too_large.status_code == 413 and too_large.headers["connection"] == "close"
    assert ErrorResponse.model_validate(too_large.json()).error.code == "body_too_large"
    assert busy.status_code == 429 and busy.headers["retry-after"] == "3"
    assert ErrorResponse.model_validate(busy.json()).model_dump() == {
        "error": {
            "code": "too_many_requests",
            "message": "tiny has 1 requests in flight; retry later.",
            "stage": "tiny",
        }
    }


def test_no_raise_site_picks_a_status_by_hand() -> None:
    """Every domain error is a typed exception: `APIError(503, ...)` at a raise site would bypass HTTP_STATUS."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    by_hand = re.compile(r"\bAPIError\(\s*\d{3}")
    found = [
        f"{path.relative_to(root)}"
        for folder in ("shared", "engines", "gateway", "services", "gmner")
        for path in (root / folder).rglob("*.py")
        if by_hand.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_a_stage_status_passed_on_keeps_its_meaning() -> None:
    from shared.errors import error_for_status

    assert error_for_status(413) is PayloadTooLarge and error_for_status(422) is InvalidRequest
    assert error_for_status(409) is InvalidInput
