"""The production `vlm` VE backend against a fake OpenAI-compatible server started here."""

from __future__ import annotations

import base64
import io
import math
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

from engines.vision.vlm import VLMConfig
from services.ve.app import create_app
from services.ve.settings import VESettings
from tests.visual_testing import chat_completion, expr, fake_vlm_server, free_port_url, image_url_of, question_of


def yes_for_collins(body: dict[str, Any]) -> dict[str, Any]:
    if "Collins" in question_of(body):
        return chat_completion("yes", {"yes": math.log(0.8), "no": math.log(0.2)})
    return chat_completion("no", {"no": math.log(0.9), "yes": math.log(0.1)})


def settings_for(base_url: str, **vlm: Any) -> VESettings:
    return VESettings(log_json=False, backend="vlm", vlm=VLMConfig(base_url=base_url, model="fake-vl", **vlm))


def test_vlm_request_has_image_and_structured_choice(astronaut_b64: str) -> None:
    expressions = [expr("Eileen Collins", "PER", "an American astronaut"), expr("NASA", "ORG", "the space agency")]
    with fake_vlm_server(yes_for_collins) as fake, TestClient(create_app(settings_for(fake.base_url))) as client:
        assert client.get("/ready").json()["checks"] == {"model": "ok"}
        response = client.post("/v1/entail", json={"image_b64": astronaut_b64, "expressions": expressions})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results == [{"groundable": True, "score": 0.8}, {"groundable": False, "score": 0.1}]

    assert len(fake.requests) == 2
    for body in fake.requests:
        assert body["model"] == "fake-vl"
        assert body["structured_outputs"] == {"choice": ["yes", "no"]}
        assert "guided_choice" not in body  # removed in vLLM 0.12
        assert body["temperature"] == 0.0
        assert body["logprobs"] is True
        url = image_url_of(body)
        assert url.startswith("data:image/jpeg;base64,")
        sent = Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2])))
        assert sent.format == "JPEG"
        assert sent.size == (504, 504)  # 512 rounded to a multiple of 28 (Qwen2.5-VL's patch grid)
    questions = sorted(question_of(b) for b in fake.requests)
    assert "Eileen Collins" in questions[0] and "an American astronaut" in questions[0]
    assert "NASA" in questions[1] and "the space agency" in questions[1]


def test_vlm_without_logprobs_uses_the_answer_word(astronaut_b64: str) -> None:
    def answer(body: dict[str, Any]) -> dict[str, Any]:
        return chat_completion("Yes" if "Collins" in question_of(body) else "no")

    expressions = [expr("Eileen Collins"), expr("Someone Else")]
    with fake_vlm_server(answer) as fake, TestClient(create_app(settings_for(fake.base_url, logprobs=False))) as c:
        response = c.post("/v1/entail", json={"image_b64": astronaut_b64, "expressions": expressions})
    assert response.json()["results"] == [{"groundable": True, "score": 1.0}, {"groundable": False, "score": 0.0}]
    assert all("logprobs" not in body for body in fake.requests)


def test_vlm_malformed_answer_is_not_groundable(astronaut_b64: str) -> None:
    with (
        fake_vlm_server(lambda body: chat_completion("I cannot tell from this picture.")) as fake,
        TestClient(create_app(settings_for(fake.base_url))) as client,
    ):
        response = client.post("/v1/entail", json={"image_b64": astronaut_b64, "expressions": [expr("A B")]})
    assert response.status_code == 200
    assert response.json()["results"] == [{"groundable": False, "score": 0.0}]


def test_vlm_server_down_is_503(astronaut_b64: str) -> None:
    with TestClient(create_app(settings_for(free_port_url(), retries=0))) as client:
        assert client.get("/ready").status_code == 503
        response = client.post("/v1/entail", json={"image_b64": astronaut_b64, "expressions": [expr("A B")]})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "vlm_unavailable"
