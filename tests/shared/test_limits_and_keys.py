"""Request limits (body size while streaming, slow bodies, per-key in-flight), API keys, the image cache by
bytes, strict booleans, error format and the OpenAPI document. In-process; the process-level versions of the
slow-body, chunked-body and readiness checks are in tests/integration/test_faults.py."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings
from shared.auth import APIKeys, hash_key, parse_keys
from shared.images import ImageCache
from shared.middleware import RequestMiddleware
from shared.protocol.gateway import GMNERJSONRequest
from shared.protocol.ner import NERRequest
from shared.settings import ImageLimits
from tests.conftest import closed_port_url

# ---------------------------------------------------------------- middleware on a tiny app


def _tiny_app(release: asyncio.Event, **middleware: Any) -> RequestMiddleware:
    async def slow(request: Request) -> JSONResponse:
        body = await request.body()
        await release.wait()
        return JSONResponse({"size": len(body), "key": request.scope.get("state", {}).get("api_key_name")})

    inner = Starlette(routes=[Route("/slow", slow, methods=["POST"]), Route("/health", slow, methods=["GET"])])
    options: dict[str, Any] = {"app_name": "tiny", "max_inflight": 8, "retry_after_s": 1} | middleware
    return RequestMiddleware(inner, **options)


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


async def test_chunked_body_over_the_limit_is_413_while_streaming() -> None:
    release = asyncio.Event()
    release.set()
    app = _tiny_app(release, max_body_bytes=1024 * 1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        # No Content-Length: a generator body is sent chunked.
        response = await client.post("/slow", content=_chunks(8 * 1024 * 1024))
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "body_too_large"
        small = await client.post("/slow", content=_chunks(512 * 1024))
        assert small.status_code == 200 and small.json()["size"] == 512 * 1024


async def test_declared_length_over_the_limit_is_413_before_reading() -> None:
    app = _tiny_app(asyncio.Event(), max_body_bytes=1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/slow", content=b"x" * 2048)
    assert response.status_code == 413


async def test_a_body_that_stalls_is_408_and_never_takes_a_slot() -> None:
    release = asyncio.Event()
    release.set()
    app = _tiny_app(release, max_inflight=1, body_timeout_s=0.3, min_upload_bytes_per_s=0)
    stalled = asyncio.Event()

    async def stalling_receive() -> dict[str, Any]:
        if not stalled.is_set():
            stalled.set()
            return {"type": "http.request", "body": b"abc", "more_body": True}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/slow", "headers": [], "query_string": b""}
    task = asyncio.create_task(app(scope, stalling_receive, send))
    await stalled.wait()
    assert app.in_flight == 0  # reading the body holds no slot
    await asyncio.wait_for(task, 5)
    assert sent[0]["status"] == 408
    assert json.loads(sent[1]["body"])["error"]["code"] == "body_timeout"


async def test_a_body_slower_than_the_minimum_rate_is_dropped() -> None:
    app = _tiny_app(asyncio.Event(), body_timeout_s=0.5, min_upload_bytes_per_s=1000)
    calls = 0

    async def trickle() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.1)  # 3 bytes every 0.1 s: 30 bytes/s, far below 1000
        return {"type": "http.request", "body": b"abc", "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/slow", "headers": [], "query_string": b""}
    await asyncio.wait_for(app(scope, trickle, send), 10)
    assert sent[0]["status"] == 408
    assert calls < 100  # it never idled past the timeout, yet was stopped by the rate


# ---------------------------------------------------------------- API keys


def _keys_file(tmp_path: Path, entries: dict[str, str]) -> Path:
    path = tmp_path / "keys.txt"
    path.write_text("# name:sha256\n" + "".join(f"{name}:{hash_key(key)}\n" for name, key in entries.items()))
    return path


def test_parse_keys_rejects_a_plain_key() -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse_keys("alice:gmner_not_a_hash")
    assert parse_keys(f"alice:{hash_key('k')}\n\n# c\n") == {hash_key("k"): "alice"}


@pytest.fixture
def keyed_gateway(tmp_path: Path) -> tuple[TestClient, Path]:
    path = _keys_file(tmp_path, {"alice": "alice-key", "bob": "bob-key"})
    settings = GatewaySettings(
        api_keys_file=path,
        ner_url=closed_port_url(),
        expansion_url=closed_port_url(),
        ve_url=None,
        vg_url=None,
        sam_url=None,
    )
    return TestClient(create_gateway(settings)), path


def test_keys_missing_wrong_right_revoked(keyed_gateway: tuple[TestClient, Path]) -> None:
    client, path = keyed_gateway
    with client:
        missing = client.post("/v1/gmner", json={"text": "Idris Elba"})
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "api_key_required"
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = client.get("/openapi.json", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        assert client.get("/openapi.json", headers={"Authorization": "Bearer alice-key"}).status_code == 200
        assert client.get("/openapi.json", headers={"X-API-Key": "bob-key"}).status_code == 200
        # Open paths: liveness, readiness (by default) and the page that asks for a key.
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code in (200, 503)
        assert client.get("/").status_code == 200
        assert client.get("/metrics").status_code == 401  # protected by default
        # Past the key check, the request is served (NER is down here: 503, not 401/403).
        served = client.post("/v1/gmner", json={"text": "Idris Elba"}, headers={"X-API-Key": "alice-key"})
        assert served.status_code == 503
        metrics = client.get("/metrics", headers={"X-API-Key": "alice-key"}).text
        assert 'gmner_requests_by_key_total{app="gateway",key="alice"' in metrics
        assert "alice-key" not in metrics
        # Revoking is editing the file: no restart.
        path.write_text(f"bob:{hash_key('bob-key')}\n")
        assert client.get("/openapi.json", headers={"X-API-Key": "alice-key"}).status_code == 403
        assert client.get("/openapi.json", headers={"X-API-Key": "bob-key"}).status_code == 200


async def test_per_key_in_flight_limit(tmp_path: Path) -> None:
    keys = APIKeys(
        _keys_file(tmp_path, {"alice": "a", "bob": "b"}),
        per_key_max_inflight=2,
        protect_metrics=True,
        protect_ready=False,
    )
    release = asyncio.Event()
    app = _tiny_app(release, auth=keys)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:

        def post(key: str) -> Any:
            return asyncio.create_task(client.post("/slow", content=b"{}", headers={"X-API-Key": key}))

        held = [post("a"), post("a")]
        while app.in_flight_by_key.get("alice", 0) < 2:
            await asyncio.sleep(0.01)
        third = await client.post("/slow", content=b"{}", headers={"X-API-Key": "a"})
        assert third.status_code == 429
        assert "alice" in third.json()["error"]["message"] and third.headers["retry-after"]
        other = post("b")
        while app.in_flight_by_key.get("bob", 0) < 1:
            await asyncio.sleep(0.01)
        release.set()
        answers = await asyncio.gather(*held, other)
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert answers[2].json()["key"] == "bob"
    assert app.in_flight == 0 and app.in_flight_by_key == {}


# ---------------------------------------------------------------- image cache by bytes


def _png(side: int, shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (shade, 0, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_cache_is_bounded_by_decoded_bytes() -> None:
    # 1 MiB budget; each 290x290 image is 252 kB decoded: four fit, the fifth evicts the oldest.
    cache = ImageCache(ImageLimits(cache_mb=1.0, cache_items=100))
    images = [_png(290, shade) for shade in range(5)]
    for data in images:
        cache.decode(data)
    assert len(cache) == 4
    assert cache.nbytes <= cache.max_bytes
    cache.decode(images[0])  # evicted: decoded again
    assert cache.misses == 6 and cache.hits == 0
    cache.decode(images[4])
    assert cache.hits == 1


def test_an_image_over_a_quarter_of_the_budget_is_not_kept() -> None:
    cache = ImageCache(ImageLimits(cache_mb=1.0, cache_items=100))
    cache.decode(_png(600, 1))  # 1.08 MB decoded
    assert len(cache) == 0 and cache.nbytes == 0


# ---------------------------------------------------------------- schemas and error format


@pytest.mark.parametrize("value", [0, 1, "yes", "true"])
def test_booleans_are_strict(value: object) -> None:
    with pytest.raises(ValueError):
        NERRequest.model_validate({"text": "x", "return_knowledge": value})
    with pytest.raises(ValueError):
        GMNERJSONRequest.model_validate_json(json.dumps({"text": "x", "use_knowledge": value}))
    assert NERRequest.model_validate({"text": "x", "return_knowledge": True}).return_knowledge is True


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> object:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]  # KeyError: the reference does not resolve
    return node


def test_gateway_openapi_refs_resolve_and_bodies_are_described() -> None:
    with TestClient(create_gateway(GatewaySettings(ner_url=closed_port_url()))) as client:
        document = client.get("/openapi.json").json()
    for ref in _refs(document):
        _resolve(document, ref)
    gmner = document["paths"]["/v1/gmner"]["post"]["requestBody"]["content"]
    overlay = document["paths"]["/v1/gmner/overlay"]["post"]["requestBody"]["content"]
    assert gmner["multipart/form-data"]["schema"]["properties"]["text"]["minLength"] == 1
    assert "image" in overlay["multipart/form-data"]["schema"]["required"]
    assert "image_b64" in overlay["application/json"]["schema"]["required"]
    assert gmner["application/json"]["schema"]["properties"]["tasks"]["enum"] == ["mner", "gmner", "smner"]


def _examples(schema: dict[str, Any]) -> list[Any]:
    """A few values for each schema form the document uses (a small schemathesis-style generator: it fails
    on a `$ref` it cannot follow, which is how fuzzers failed on `#/$defs/Task`)."""
    if "$ref" in schema:
        raise AssertionError(f"unresolvable reference {schema['$ref']}")
    if "anyOf" in schema:
        return [v for option in schema["anyOf"] for v in _examples(option)]
    if "enum" in schema:
        return list(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return ["a" * max(1, schema.get("minLength", 0)), "Idris Elba in London"]
    if kind == "boolean":
        return [True, False]
    if kind == "null":
        return [None]
    if kind == "object":
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        bodies = [{name: _examples(properties[name])[0] for name in required}]
        for name, sub in properties.items():
            bodies += [{**bodies[0], name: value} for value in _examples(sub)]
        return bodies
    raise AssertionError(f"schema form not generated: {schema}")


def test_generated_json_bodies_from_the_schema_validate() -> None:
    with TestClient(create_gateway(GatewaySettings(ner_url=closed_port_url()))) as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/gmner", "/v1/gmner/overlay"):
        schema = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        bodies = _examples(schema)
        assert len(bodies) > 10
        for body in bodies:
            GMNERJSONRequest.model_validate_json(json.dumps(body))


def test_invalid_utf8_json_to_a_stage_is_the_documented_error() -> None:
    from services.expansion.app import create_app as create_expansion

    with TestClient(create_expansion()) as client:
        response = client.post(
            "/v1/expand", content=b'{"text": "\xff\xfe"}', headers={"content-type": "application/json"}
        )
        missing = client.post("/v1/no-such-route", json={})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert "detail" not in response.json()
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_empty_form_text_is_422() -> None:
    with TestClient(create_gateway(GatewaySettings(ner_url=closed_port_url()))) as client:
        response = client.post("/v1/gmner", data={"text": ""})
    assert response.status_code == 422


def test_keys_command_makes_a_key_the_gateway_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gmner.cli import main

    path = tmp_path / "keys.txt"
    assert main(["keys", "new", "carol", "--file", str(path)]) == 0
    key = capsys.readouterr().out.strip()
    assert key not in path.read_text()
    assert main(["keys", "new", "carol", "--file", str(path)]) == 1
    keys = APIKeys(path, per_key_max_inflight=1, protect_metrics=True, protect_ready=True)
    assert keys.identify("/v1/gmner", {"x-api-key": key}) == "carol"
    assert keys.identify("/health", {}) is None


async def test_cached_check_answers_from_cache_while_the_probe_hangs() -> None:
    from shared.probes import CachedCheck

    gate = asyncio.Event()
    calls = 0

    async def probe() -> bool:
        nonlocal calls
        await gate.wait()
        calls += 1
        return True

    check = CachedCheck(probe, interval_s=0.0, first_wait_s=0.01, failures_to_fail=3)
    # Nothing known and the probe hangs: "not ready yet", answered without waiting for the probe.
    assert await asyncio.wait_for(check.result(), 5) is False
    gate.set()
    while calls < 1:
        await asyncio.sleep(0.01)
    assert await check.result() is True
    # Two failed outcomes in a row are not enough to flip it; the third is.
    slow = CachedCheck(probe, interval_s=3600, failures_to_fail=3)
    slow.record(True)
    slow.record(False)
    slow.record(False)
    assert await slow.result() is True
    slow.record(False)
    assert await slow.result() is False
    slow.record(True)
    assert await slow.result() is True
    await check.aclose()
