"""Every bad input to the gateway gets a 4xx with a reason before any stage is called."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.limits import TEXT_LIMITS
from tests.conftest import closed_port_url, image_bytes


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GMNER_IMAGE_MAX_BYTES", "200000")
        mp.setenv("GMNER_IMAGE_MAX_PIXELS", "1000000")
        settings = GatewaySettings(
            ner_url=closed_port_url(),
            expansion_url=closed_port_url(),
            ve_url=None,
            vg_url=None,
            sam_url=None,
            stage_retries=0,
            max_body_bytes=400_000,
        )
        with TestClient(create_app(settings)) as test_client:
            yield test_client


def _error(response) -> tuple[int, str]:
    body = response.json()
    assert body["error"]["message"], body
    return response.status_code, body["error"]["code"]


def test_missing_text(client: TestClient) -> None:
    assert _error(client.post("/v1/gmner", json={})) == (422, "invalid_request")
    assert _error(client.post("/v1/gmner", data={"caption": "x"})) == (422, "invalid_request")


def test_blank_text(client: TestClient) -> None:
    for response in (client.post("/v1/gmner", json={"text": "  \n"}), client.post("/v1/gmner", data={"text": " "})):
        assert _error(response) == (422, "invalid_request")
        assert response.json()["error"]["message"].startswith("text: ")


def test_text_over_limit_in_json_and_form(client: TestClient) -> None:
    limit = TEXT_LIMITS.max_text_chars
    for response in (
        client.post("/v1/gmner", json={"text": "a" * (limit + 1)}),
        client.post("/v1/gmner", data={"text": "a" * (limit + 1)}),
        client.post("/v1/gmner", json={"text": "hi", "caption": "c" * (limit + 1)}),
        client.post("/v1/gmner", data={"text": "hi", "caption": "c" * (limit + 1)}),
    ):
        assert _error(response) == (422, "invalid_request")
        assert str(limit) in response.json()["error"]["message"]


def test_non_image_bytes(client: TestClient) -> None:
    files = {"image": ("notes.txt", b"just some text", "text/plain")}
    assert _error(client.post("/v1/gmner", data={"text": "hi Paris"}, files=files)) == (415, "not_an_image")


def test_truncated_image(client: TestClient) -> None:
    data = image_bytes("JPEG", (300, 300))
    files = {"image": ("cut.jpg", data[: len(data) // 3], "image/jpeg")}
    assert _error(client.post("/v1/gmner", data={"text": "hi Paris"}, files=files)) == (400, "corrupt_image")


def test_image_over_byte_limit(client: TestClient) -> None:
    import os

    data = image_bytes("PNG", (8, 8)) + os.urandom(250_000)  # valid header, too many bytes
    files = {"image": ("big.png", data, "image/png")}
    assert _error(client.post("/v1/gmner", data={"text": "hi Paris"}, files=files)) == (413, "image_too_large")


def test_image_over_pixel_limit(client: TestClient) -> None:
    files = {"image": ("wide.png", image_bytes("PNG", (2000, 600)), "image/png")}
    assert _error(client.post("/v1/gmner", data={"text": "hi Paris"}, files=files)) == (413, "too_many_pixels")


def test_unsupported_format(client: TestClient) -> None:
    files = {"image": ("x.bmp", image_bytes("BMP"), "image/bmp")}
    assert _error(client.post("/v1/gmner", data={"text": "hi Paris"}, files=files)) == (415, "unsupported_format")


def test_empty_upload(client: TestClient) -> None:
    files = {"image": ("x.png", b"", "image/png")}
    assert _error(client.post("/v1/gmner", data={"text": "hi Paris"}, files=files)) == (400, "empty_image")


def test_malformed_json(client: TestClient) -> None:
    response = client.post("/v1/gmner", content=b'{"text": "hi', headers={"content-type": "application/json"})
    assert _error(response) == (400, "malformed_json")


def test_malformed_base64(client: TestClient) -> None:
    assert _error(client.post("/v1/gmner", json={"text": "hi", "image_b64": "%%%"})) == (400, "invalid_base64")


def test_base64_of_non_image(client: TestClient) -> None:
    payload = {"text": "hi", "image_b64": base64.b64encode(b"hello world").decode()}
    assert _error(client.post("/v1/gmner", json=payload)) == (415, "not_an_image")


def test_unknown_task(client: TestClient) -> None:
    assert _error(client.post("/v1/gmner", json={"text": "hi", "tasks": "boxes"})) == (422, "invalid_request")
    assert _error(client.post("/v1/gmner", data={"text": "hi", "tasks": "boxes"})) == (422, "invalid_request")


def test_wrong_content_type(client: TestClient) -> None:
    response = client.post("/v1/gmner", content=b"text=hi", headers={"content-type": "text/plain"})
    assert _error(response) == (415, "unsupported_content_type")


def test_body_over_limit(client: TestClient) -> None:
    response = client.post("/v1/gmner", json={"text": "hi", "image_b64": "A" * 500_000})
    assert _error(response) == (413, "body_too_large")
    assert "400000" in response.json()["error"]["message"]  # the declared length, refused before reading


OVERSIZED = json.dumps({"text": "hi", "image_b64": "A" * 500_000}).encode()


def test_body_over_limit_without_a_content_length(client: TestClient) -> None:
    # Chunked: only counting the bytes as they arrive can refuse it (the middleware, the one place that does).
    response = client.post(
        "/v1/gmner", content=iter([OVERSIZED[:1000], OVERSIZED[1000:]]), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert _error(response) == (413, "body_too_large")


def test_body_over_limit_with_a_lying_content_length(client: TestClient) -> None:
    headers = {"content-type": "application/json", "content-length": "100"}
    response = client.post("/v1/gmner", content=OVERSIZED, headers=headers)
    assert response.request.headers["content-length"] == "100"
    assert _error(response) == (413, "body_too_large")


def test_form_body_over_limit(client: TestClient) -> None:
    files = {"image": ("big.png", b"A" * 500_000, "image/png")}
    response = client.post("/v1/gmner/overlay", data={"text": "hi Paris"}, files=files)
    assert _error(response) == (413, "body_too_large")


def test_image_as_a_text_field(client: TestClient) -> None:
    files = {"attachment": ("notes.txt", b"x", "text/plain")}  # a file part, so that httpx sends multipart
    response = client.post("/v1/gmner", data={"text": "hi Paris", "image": "abc"}, files=files)
    assert _error(response) == (422, "invalid_request")
    assert "file part" in response.json()["error"]["message"]


def test_blank_image_field_is_no_image(client: TestClient) -> None:
    # Read as a post without an image: the request gets as far as NER (down here), not a 4xx.
    assert client.post("/v1/gmner", data={"text": "hi Paris", "image": ""}).status_code == 503


def test_ner_down_is_503_naming_the_stage(client: TestClient) -> None:
    response = client.post("/v1/gmner", json={"text": "Idris Elba in Paris"})
    assert response.status_code == 503
    assert response.json()["error"]["stage"] == "ner"
    assert response.headers["Retry-After"]


def test_ready_names_the_missing_stage(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"ner": "not ready", "expansion": "degraded: not ready"}
