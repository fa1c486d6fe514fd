"""The production `clip` backend's real loading code, on a tiny random CLIP saved to a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.ve.app import create_app
from services.ve.backends.clip import CLIP_THRESHOLD, SIGLIP_THRESHOLD
from services.ve.settings import VESettings
from tests.visual_testing import expr, save_tiny_clip, save_tiny_siglip


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


def test_clip_backend_serves_a_request(tiny_clip: Path, astronaut_b64: str) -> None:
    settings = VESettings(log_json=False, backend="clip", clip_model=str(tiny_clip))
    expressions = [expr("Eileen Collins", "PER", "an American astronaut"), expr("NASA", "ORG", "the space agency")]
    with TestClient(create_app(settings)) as client:
        backend = client.app.state.serving.backend
        assert backend.name == "clip"
        assert backend.sigmoid is False  # a CLIP checkpoint: cosine scores
        assert backend.threshold == CLIP_THRESHOLD
        response = client.post("/v1/entail", json={"image_b64": astronaut_b64, "expressions": expressions})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["backend"] == "clip"
    assert len(body["results"]) == 2
    for result in body["results"]:
        assert -1.0 <= result["score"] <= 1.0
        assert result["groundable"] == (result["score"] >= CLIP_THRESHOLD)
    # Different texts against the same image: different cosines (the text really went through the model).
    assert body["results"][0]["score"] != body["results"][1]["score"]


def test_siglip_checkpoint_gets_sigmoid_scores(tmp_path: Path, astronaut_b64: str) -> None:
    model = save_tiny_siglip(tmp_path / "tiny-siglip")
    settings = VESettings(log_json=False, backend="clip", clip_model=str(model))
    expressions = [expr("Eileen Collins", "PER", "an American astronaut"), expr("NASA", "ORG", "the space agency")]
    with TestClient(create_app(settings)) as client:
        backend = client.app.state.serving.backend
        assert backend.sigmoid is True
        assert backend.threshold == SIGLIP_THRESHOLD
        response = client.post("/v1/entail", json={"image_b64": astronaut_b64, "expressions": expressions})
    assert response.status_code == 200, response.text
    for result in response.json()["results"]:
        assert 0.0 < result["score"] < 1.0
        assert result["groundable"] == (result["score"] >= SIGLIP_THRESHOLD)


def test_clip_threshold_setting_decides_groundable(tiny_clip: Path, astronaut_b64: str) -> None:
    settings = VESettings(log_json=False, backend="clip", clip_model=str(tiny_clip), threshold=-1.0)
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/entail", json={"image_b64": astronaut_b64, "expressions": [expr("X", "MISC")]})
    assert response.json()["results"][0]["groundable"] is True


def test_clip_backend_needs_a_model() -> None:
    with pytest.raises(ValueError, match="GMNER_VE_CLIP_MODEL"), TestClient(create_app(VESettings(backend="clip"))):
        pass
