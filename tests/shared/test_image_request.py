"""The visual stages' two request encodings on the real apps: multipart (`request` JSON + `image` bytes, what
the gateway sends) and JSON with `image_b64`, read by one shared reader with a 4xx for every bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.sam.app import create_app as create_sam
from services.sam.settings import SamSettings
from services.ve.app import create_app as create_ve
from services.ve.settings import VESettings
from services.vg.app import create_app as create_vg
from services.vg.settings import VGSettings
from shared.settings import ImageLimits
from tests.visual_testing import astronaut, b64, png_bytes

EXPRESSIONS = [
    {"entity": "Eileen Collins", "type": "PER", "expression": "Eileen Collins (PER) – an American astronaut"},
    {"entity": "NASA", "type": "ORG", "expression": "NASA (ORG) – the US space agency"},
]


@dataclass(frozen=True)
class Stage:
    name: str
    path: str
    params: dict[str, Any]
    bad_params: dict[str, Any]  # one schema violation
    bad_field: str  # where the violation is, as the error message names it


STAGES = [
    Stage("ve", "/v1/entail", {"expressions": EXPRESSIONS}, {"expressions": [{**EXPRESSIONS[0], "type": "CITY"}]},
          "request.expressions.0.type"),
    Stage("vg", "/v1/ground", {"expressions": EXPRESSIONS}, {"expressions": []}, "request.expressions"),
    Stage("sam", "/v1/segment", {"boxes": [[181.0, 62.0, 268.0, 172.0]]}, {"boxes": [[10, 10, 5, 20]]},
          "request.boxes.0"),
]  # fmt: skip


def make_app(stage: str, **overrides: Any) -> Any:
    common: dict[str, Any] = {"log_json": False, **overrides}
    if stage == "ve":
        return create_ve(VESettings(backend="faces", torch_threads=1, **common))
    if stage == "vg":
        return create_vg(VGSettings(backend="faces", torch_threads=1, **common))
    return create_sam(SamSettings(**common))


@pytest.fixture(scope="module")
def image() -> bytes:
    return png_bytes(astronaut())


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, TestClient]]:
    opened = {name: TestClient(make_app(name)) for name in ("ve", "vg", "sam")}
    for client in opened.values():
        client.__enter__()
    yield opened
    for client in opened.values():
        client.__exit__(None, None, None)


@pytest.fixture(params=STAGES, ids=[s.name for s in STAGES])
def stage(request: pytest.FixtureRequest) -> Stage:
    return request.param


def multipart(client: TestClient, path: str, params: Any, image: bytes, *, raw_request: str | None = None) -> Any:
    data = {"request": raw_request if raw_request is not None else json.dumps(params)}
    return client.post(path, data=data, files={"image": ("image.png", image, "image/png")})


def form_only(client: TestClient, path: str, fields: dict[str, str]) -> Any:
    """A multipart body of text fields only (httpx would send those urlencoded)."""
    boundary = "test-boundary-7f3a"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return client.post(path, content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"})


def error(response: Any) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


def test_multipart_gives_the_json_answer(clients: dict[str, TestClient], stage: Stage, image: bytes) -> None:
    client = clients[stage.name]
    by_json = client.post(stage.path, json={**stage.params, "image_b64": b64(image)})
    by_parts = multipart(client, stage.path, stage.params, image)
    assert by_json.status_code == 200, by_json.text
    assert by_parts.status_code == 200, by_parts.text
    assert by_parts.json()["results"] == by_json.json()["results"]
    assert len(by_parts.json()["results"]) == len(next(iter(stage.params.values())))


def test_both_encodings_share_the_decoded_image_cache(stage: Stage, image: bytes) -> None:
    with TestClient(make_app(stage.name)) as client:
        cache = client.app.state.serving.images  # type: ignore[attr-defined]
        assert multipart(client, stage.path, stage.params, image).status_code == 200
        assert client.post(stage.path, json={**stage.params, "image_b64": b64(image)}).status_code == 200
        assert (cache.misses, cache.hits) == (1, 1)  # decoded once, keyed by the bytes' hash


def test_missing_parts(clients: dict[str, TestClient], stage: Stage, image: bytes) -> None:
    client = clients[stage.name]
    no_request = client.post(stage.path, files={"image": ("image.png", image, "image/png")})
    assert error(no_request)[:2] == (422, "missing_part")
    assert "request" in error(no_request)[2]
    no_image = form_only(client, stage.path, {"request": json.dumps(stage.params)})
    assert error(no_image)[:2] == (422, "missing_part")
    assert "image" in error(no_image)[2]


def test_invalid_json_in_the_request_part(clients: dict[str, TestClient], stage: Stage, image: bytes) -> None:
    status, code, message = error(multipart(clients[stage.name], stage.path, None, image, raw_request="{not json"))
    assert (status, code) == (422, "malformed_json")
    assert message.startswith("request")


def test_schema_violation_in_the_request_part(clients: dict[str, TestClient], stage: Stage, image: bytes) -> None:
    status, code, message = error(multipart(clients[stage.name], stage.path, stage.bad_params, image))
    assert (status, code) == (422, "invalid_request")
    assert message.startswith(stage.bad_field)


def test_image_b64_belongs_to_the_json_encoding_only(
    clients: dict[str, TestClient], stage: Stage, image: bytes
) -> None:
    params = {**stage.params, "image_b64": b64(image)}
    status, code, message = error(multipart(clients[stage.name], stage.path, params, image))
    assert (status, code) == (422, "invalid_request")
    assert "request.image_b64" in message


@pytest.mark.parametrize(
    ("files", "extra", "status", "code"),
    [
        ({"image": ("image.png", b"", "image/png")}, {}, 400, "empty_image"),
        ({"image": ("notes.txt", b"just some text", "text/plain")}, {}, 415, "not_an_image"),
        ({"image": ("image.png", b"IMAGE", "image/png")}, {"caption": "x"}, 422, "invalid_request"),
    ],
    ids=["empty", "not-an-image", "extra-part"],
)
def test_bad_image_parts(
    clients: dict[str, TestClient],
    stage: Stage,
    image: bytes,
    files: dict[str, Any],
    extra: dict[str, str],
    status: int,
    code: str,
) -> None:
    files = {k: (v[0], image if v[1] == b"IMAGE" else v[1], v[2]) for k, v in files.items()}
    response = clients[stage.name].post(
        stage.path, data={"request": json.dumps(stage.params), **extra}, files=files or None
    )
    assert error(response)[:2] == (status, code), response.text


def test_image_as_a_text_field_is_refused(clients: dict[str, TestClient], stage: Stage) -> None:
    response = form_only(clients[stage.name], stage.path, {"request": json.dumps(stage.params), "image": "abc"})
    status, code, message = error(response)
    assert (status, code) == (422, "invalid_request")
    assert "file part" in message


def test_two_image_parts_are_refused(clients: dict[str, TestClient], stage: Stage, image: bytes) -> None:
    response = clients[stage.name].post(
        stage.path,
        data={"request": json.dumps(stage.params)},
        files=[("image", ("a.png", image, "image/png")), ("image", ("b.png", image, "image/png"))],
    )
    assert error(response)[:2] == (422, "invalid_request")


def test_broken_multipart_body(clients: dict[str, TestClient], stage: Stage) -> None:
    response = clients[stage.name].post(
        stage.path,
        content=b'--other\r\nContent-Disposition: form-data; name="request"\r\n\r\n{}',
        headers={"content-type": "multipart/form-data"},  # no boundary
    )
    assert error(response)[:2] == (400, "malformed_form")


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", None])
def test_unsupported_content_type(clients: dict[str, TestClient], stage: Stage, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = clients[stage.name].post(stage.path, content=b"{}", headers=headers)
    status, code, message = error(response)
    assert (status, code) == (415, "unsupported_content_type")
    assert "multipart/form-data" in message


def test_json_encoding_errors_are_unchanged(clients: dict[str, TestClient], stage: Stage, image: bytes) -> None:
    client = clients[stage.name]
    assert error(client.post(stage.path, json={**stage.params, "image_b64": "%%%"}))[:2] == (400, "invalid_base64")
    assert error(client.post(stage.path, json=stage.params))[:2] == (422, "invalid_request")  # no image_b64
    broken = client.post(stage.path, content=b"{", headers={"content-type": "application/json"})
    assert error(broken)[:2] == (422, "malformed_json")


def test_body_limit_holds_for_multipart(stage: Stage, image: bytes) -> None:
    assert len(image) > 4096
    with TestClient(make_app(stage.name, max_body_bytes=4096)) as client:
        status, code, _ = error(multipart(client, stage.path, stage.params, image))
        assert (status, code) == (413, "body_too_large")
        assert client.app.state.serving.images.misses == 0  # type: ignore[attr-defined]


def test_image_byte_limit_holds_for_multipart(stage: Stage, image: bytes) -> None:
    with TestClient(make_app(stage.name, image=ImageLimits(max_bytes=len(image) - 1))) as client:
        assert error(multipart(client, stage.path, stage.params, image))[:2] == (413, "image_too_large")


def test_openapi_documents_both_encodings(clients: dict[str, TestClient], stage: Stage) -> None:
    body = clients[stage.name].get("/openapi.json").json()["paths"][stage.path]["post"]["requestBody"]
    form = body["content"]["multipart/form-data"]
    assert form["schema"]["required"] == ["request", "image"]
    assert form["schema"]["properties"]["image"]["format"] == "binary"
    assert form["encoding"]["request"]["contentType"] == "application/json"
    request_schema = form["schema"]["properties"]["request"]
    # The parameters this test sends, plus the optional post text VE and VG read for their grounding rules.
    optional = {"text"} if stage.name in ("ve", "vg") else set()
    assert set(request_schema["properties"]) == set(stage.params) | optional
    assert "image_b64" not in request_schema["properties"]
    json_schema = body["content"]["application/json"]["schema"]
    assert "image_b64" in json_schema["required"]
    assert "$ref" not in json.dumps(body)  # every definition inlined, so generators can build a body
