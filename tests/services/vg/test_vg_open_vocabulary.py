"""The production `owlv2` and `grounding-dino` backends' real loading code, on tiny random models saved to
a temp dir (boxes from random weights mean nothing; the test checks the plumbing and the pixel mapping)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.vg.app import create_app
from services.vg.settings import VGSettings
from tests.visual_testing import b64, expr, png_bytes, save_tiny_grounding_dino, save_tiny_owlv2

EXPRESSIONS = [
    expr("Eileen Collins", "PER", "an American astronaut"),
    expr("NASA", "ORG", "the U.S. space agency"),
    expr("Houston", "LOC", "a city in Texas"),
]


@pytest.fixture(scope="module")
def wide_b64() -> str:
    """A 300x120 image: not square, so a wrong padding or axis convention shows in the boxes."""
    from PIL import Image

    return b64(png_bytes(Image.new("RGB", (300, 120), (200, 120, 40))))


@pytest.mark.parametrize(
    ("backend", "save"), [("owlv2", save_tiny_owlv2), ("grounding-dino", save_tiny_grounding_dino)]
)
def test_detector_backend_serves_a_request(
    backend: str, save: Callable[[Path], Path], tmp_path: Path, wide_b64: str
) -> None:
    model = save(tmp_path / backend)
    settings = VGSettings(log_json=False, backend=backend, detector_model=str(model))
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/ground", json={"image_b64": wide_b64, "expressions": EXPRESSIONS})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["backend"] == backend
    assert len(body["results"]) == len(EXPRESSIONS)
    for result in body["results"]:
        assert 0.0 <= result["score"] <= 1.0
        x1, y1, x2, y2 = result["box"]
        assert 0 <= x1 < x2 <= 300 and 0 <= y1 < y2 <= 120


def test_owlv2_min_score_nulls_weak_boxes(tmp_path: Path, wide_b64: str) -> None:
    model = save_tiny_owlv2(tmp_path / "owlv2")
    settings = VGSettings(log_json=False, backend="owlv2", detector_model=str(model), min_score=1.0)
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/ground", json={"image_b64": wide_b64, "expressions": EXPRESSIONS[:1]})
    [result] = response.json()["results"]
    assert result["box"] is None and result["score"] < 1.0


def test_grounding_dino_phrase_spans(tmp_path: Path) -> None:
    from services.vg.backends.open_vocabulary import GroundingDinoVGBackend

    backend = GroundingDinoVGBackend(str(save_tiny_grounding_dino(tmp_path / "gd")))
    ids = backend.processor.tokenizer("an astronaut. the u s space agency.")["input_ids"]
    spans = backend._spans(ids)
    assert len(spans) == 2
    # "." inside a query would split it in two: it is removed from queries.
    from shared.protocol.visual import VisualExpression

    assert backend._query(VisualExpression(**EXPRESSIONS[1])) == "the u s space agency"
