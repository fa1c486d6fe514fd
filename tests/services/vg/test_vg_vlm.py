"""The production `vlm` VG backend against a fake OpenAI-compatible server started here."""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from engines.vision.vlm import VLMConfig
from services.vg.app import create_app
from services.vg.backends.vlm import BOX_SCHEMA, BoxAnswer, parse_box_answer
from services.vg.settings import VGSettings
from tests.visual_testing import chat_completion, expr, fake_vlm_server, free_port_url, image_url_of, question_of


def settings_for(base_url: str, **extra: Any) -> VGSettings:
    return VGSettings(log_json=False, backend="vlm", vlm=VLMConfig(base_url=base_url, model="fake-vl"), **extra)


def answer_by_entity(answers: dict[str, str]) -> Any:
    def answer(body: dict[str, Any]) -> dict[str, Any]:
        question = question_of(body)
        for name, text in answers.items():
            if name in question:
                return chat_completion(text)
        return chat_completion('{"box": null}')

    return answer


def test_vlm_box_is_validated_and_mapped_to_original_pixels(astronaut_b64: str) -> None:
    # The image is sent at 504x504 (512 rounded to 28s), so answers are in that image's pixels.
    answers = {
        "Eileen": '{"box": [63, 0, 378, 504]}',
        "NASA": '{"box": null}',
        "Ghost": '{"box": [10, 10, 900, 900]}',  # far outside the image: rejected
        "Broken": "the astronaut is in the middle",  # malformed: null, not a 500
        "Inverted": '{"box": [300, 300, 100, 100]}',  # x2 < x1: rejected
        "Qwen": '```json\n[{"bbox_2d": [0, 0, 252, 252], "label": "x"}]\n```',  # Qwen's native format
    }
    expressions = [
        expr("Eileen Collins", "PER", "an American astronaut"),
        expr("NASA", "ORG", "the space agency"),
        expr("Ghost"),
        expr("Broken"),
        expr("Inverted"),
        expr("Qwen"),
    ]
    with (
        fake_vlm_server(answer_by_entity(answers)) as fake,
        TestClient(create_app(settings_for(fake.base_url))) as client,
    ):
        response = client.post("/v1/ground", json={"image_b64": astronaut_b64, "expressions": expressions})
        rejected = client.app.state.serving.backend.rejected
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[0] == {"box": [64.0, 0.0, 384.0, 512.0], "score": 1.0}
    assert results[1:5] == [{"box": None, "score": 0.0}] * 4
    assert results[5] == {"box": [0.0, 0.0, 256.0, 256.0], "score": 1.0}
    assert rejected == 3

    assert len(fake.requests) == len(expressions)
    for body in fake.requests:
        assert body["structured_outputs"] == {"json": BOX_SCHEMA}
        url = image_url_of(body)
        assert url.startswith("data:image/jpeg;base64,")
        assert Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))).size == (504, 504)
        assert re.search(r"504x504 image", question_of(body))


def test_vlm_normalised_coordinates(astronaut_b64: str) -> None:
    answers = {"Eileen": '{"box": [125, 0, 750, 1000]}'}
    with (
        fake_vlm_server(answer_by_entity(answers)) as fake,
        TestClient(create_app(settings_for(fake.base_url, vlm_coordinates="norm1000"))) as client,
    ):
        response = client.post("/v1/ground", json={"image_b64": astronaut_b64, "expressions": [expr("Eileen C")]})
    assert response.json()["results"] == [{"box": [64.0, 0.0, 384.0, 512.0], "score": 1.0}]


def test_vlm_server_down_is_503(astronaut_b64: str) -> None:
    settings = VGSettings(log_json=False, backend="vlm", vlm=VLMConfig(base_url=free_port_url(), retries=0))
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/ground", json={"image_b64": astronaut_b64, "expressions": [expr("A B")]})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "vlm_unavailable"


@pytest.mark.parametrize(
    ("text", "box"),
    [
        ('{"box": [1, 2, 3, 4]}', [1.0, 2.0, 3.0, 4.0]),
        ('Sure! {"box": [1, 2, 3, 4]} is the box.', [1.0, 2.0, 3.0, 4.0]),
        ("[1, 2, 3, 4]", [1.0, 2.0, 3.0, 4.0]),
        ('{"bbox": [1, 2, 3, 4]}', [1.0, 2.0, 3.0, 4.0]),
        ('{"box": null}', None),
        ("[]", None),  # Qwen's native answer when it finds nothing
    ],
)
def test_parse_box_answer(text: str, box: list[float] | None) -> None:
    assert parse_box_answer(text) == BoxAnswer(box=box)


@pytest.mark.parametrize(
    "text", ["", "no idea", '{"box": [1, 2, 3]}', '{"box": "left"}', "{not json}", '{"box": [1,2,3,4,5]}']
)
def test_parse_box_answer_rejects(text: str) -> None:
    assert parse_box_answer(text) is None


def test_box_schema_is_json() -> None:
    assert json.loads(json.dumps(BOX_SCHEMA))["required"] == ["box"]
