"""The embedded `faces` VE backend on real photographs, and the app's answers to bad input."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from services.ve.app import create_app
from services.ve.settings import VESettings
from shared.protocol.visual import MAX_ITEMS_PER_CALL
from tests.visual_testing import b64, expr, png_bytes


def entail(client: TestClient, image_b64: str, expressions: list[dict[str, str]]) -> dict:
    response = client.post("/v1/entail", json={"image_b64": image_b64, "expressions": expressions})
    assert response.status_code == 200, response.text
    return response.json()


def test_astronaut_person_is_groundable(faces_client: TestClient, astronaut_b64: str) -> None:
    body = entail(faces_client, astronaut_b64, [expr("Eileen Collins", "PER", "an American astronaut")])
    assert body["backend"] == "faces"
    [result] = body["results"]
    assert result["groundable"] is True
    assert result["score"] >= 0.9


def test_no_person_means_per_not_groundable(faces_client: TestClient, coffee_b64: str) -> None:
    [result] = entail(faces_client, coffee_b64, [expr("Eileen Collins", "PER", "an American astronaut")])["results"]
    assert result == {"groundable": False, "score": 0.0}


@pytest.mark.parametrize("size", [(1, 1), (8, 300), (3000, 20)])
def test_tiny_and_thin_images_have_nobody(faces_client: TestClient, size: tuple[int, int]) -> None:
    image = b64(png_bytes(Image.new("RGB", size, (120, 90, 60))))
    assert entail(faces_client, image, [expr("Eileen Collins")])["results"] == [{"groundable": False, "score": 0.0}]


def test_results_follow_request_order_and_type_priors(faces_client: TestClient, astronaut_b64: str) -> None:
    expressions = [
        expr("NASA", "ORG", "the US space agency"),
        expr("Eileen Collins", "PER", "an American astronaut"),
        expr("Houston", "LOC", "a city in Texas"),
        expr("Columbia", "MISC", "a space shuttle"),
        expr("Collins", "PER", "the astronaut"),
    ]
    results = entail(faces_client, astronaut_b64, expressions)["results"]
    assert [r["groundable"] for r in results] == [False, True, False, False, True]
    assert [r["score"] for r in results if not r["groundable"]] == [0.27, 0.09, 0.26]  # the type priors


def test_detections_are_cached_per_image(faces_client: TestClient, astronaut_b64: str, coffee_b64: str) -> None:
    detector = faces_client.app.state.serving.backend.detector
    entail(faces_client, astronaut_b64, [expr("A")])
    entail(faces_client, coffee_b64, [expr("B")])
    runs = detector.runs
    entail(faces_client, astronaut_b64, [expr("C")])
    entail(faces_client, coffee_b64, [expr("D")])
    assert detector.runs == runs


def test_non_person_only_request_skips_the_detector(faces_client: TestClient) -> None:
    detector = faces_client.app.state.serving.backend.detector
    runs = detector.runs
    # An image never seen before: a PER expression would have to run the detector on it.
    texture = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    entail(faces_client, b64(png_bytes(texture)), [expr("Paris", "LOC", "a city")])
    assert detector.runs == runs


def test_priors_and_threshold_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, astronaut_b64: str) -> None:
    monkeypatch.setenv("GMNER_VE_FACES_PRIORS", '{"LOC": 0.7}')
    monkeypatch.setenv("GMNER_VE_THRESHOLD", "0.6")
    monkeypatch.setenv("GMNER_VE_FACES__MIN_FACE_SIZE", "40")
    settings = VESettings(backend="faces", log_json=False)
    assert settings.faces.min_face_size == 40
    with TestClient(create_app(settings)) as client:
        results = entail(client, astronaut_b64, [expr("Houston", "LOC", "a city"), expr("NASA", "ORG", "an agency")])
    assert results["results"] == [{"groundable": True, "score": 0.7}, {"groundable": False, "score": 0.0}]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"expressions": []}, 422, "invalid_request"),
        ({"expressions": [expr(f"P{i}") for i in range(MAX_ITEMS_PER_CALL + 1)]}, 422, "invalid_request"),
        ({"expressions": [{"entity": "A", "type": "PERSON", "expression": "A"}]}, 422, "invalid_request"),
        ({"expressions": [expr("   ")]}, 422, "invalid_request"),
        ({"image_b64": base64.b64encode(b"not an image at all").decode()}, 415, "not_an_image"),
        ({"image_b64": "%%%"}, 400, "invalid_base64"),
        ({"image_b64": base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40).decode()}, 415, "not_an_image"),
    ],
)
def test_bad_input_is_a_clear_4xx(
    faces_client: TestClient, astronaut_b64: str, payload: dict, status: int, code: str
) -> None:
    body = {"image_b64": astronaut_b64, "expressions": [expr("Eileen Collins")], **payload}
    response = faces_client.post("/v1/entail", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["stage"] == "ve"


def test_ready_and_health(faces_client: TestClient) -> None:
    assert faces_client.get("/health").json()["status"] == "ok"
    ready = faces_client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"model": "ok"}
