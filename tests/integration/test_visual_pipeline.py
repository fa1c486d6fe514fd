"""Full SMNER through the gateway with every stage as a real process and the bundled weights."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageOps

from gmner.embedded.stack import EmbeddedStack
from tests.integration.conftest import down, extra_gateway, metric_value
from tests.visual_testing import astronaut, coffee, two_people

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("needs_visual")]

POST = "Astronaut Eileen Collins waves before the launch at Kennedy Space Center"
# Where the astronaut's body is in scikit-image's 512x512 photograph (x1, y1, x2, y2).
PERSON_REGION = (20, 15, 365, 512)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _post(stack: EmbeddedStack | str, text: str, image: bytes, tasks: str = "smner", **fields: str) -> dict:
    url = stack if isinstance(stack, str) else stack.gateway_url
    response = httpx.post(
        f"{url}/v1/gmner",
        data={"text": text, "tasks": tasks, **fields},
        files={"image": ("photo.jpg", image, "image/jpeg")},
        timeout=600,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _iou(a: list[float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def test_person_in_the_photo_gets_box_and_mask(stack: EmbeddedStack) -> None:
    from pycocotools import mask as mask_utils

    body = _post(stack, POST, _jpeg(astronaut()))
    person = next(e for e in body["entities"] if e["type"] == "PER")
    assert "Eileen Collins" in person["text"]
    assert person["groundable"] is True
    assert _iou(person["box"], PERSON_REGION) > 0.5
    rle = person["mask"]
    assert rle["size"] == [512, 512]
    mask = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
    x1, y1, x2, y2 = (round(v) for v in person["box"])
    inside = mask[y1:y2, x1:x2].sum()
    assert mask.sum() > 1000 and inside / mask.sum() > 0.95  # the mask lies in its box
    assert body["degraded"] == []
    for other in body["entities"]:
        if other["type"] != "PER":
            assert other["groundable"] is False and other["visual_reason"] == "not_groundable"


def test_no_person_in_the_photo(stack: EmbeddedStack) -> None:
    body = _post(stack, POST, _jpeg(coffee()))
    person = next(e for e in body["entities"] if e["type"] == "PER")
    assert person["groundable"] is False and person["box"] is None and person["mask"] is None
    assert person["visual_reason"] == "not_groundable"


def test_gmner_task_gives_boxes_without_masks(stack: EmbeddedStack) -> None:
    body = _post(stack, POST, _jpeg(astronaut()), tasks="gmner")
    person = next(e for e in body["entities"] if e["type"] == "PER")
    assert person["box"] is not None and person["mask"] is None


def test_two_people_three_names_one_sam_encode(stack: EmbeddedStack) -> None:
    sam = stack.url("sam")
    misses = metric_value(sam, "gmner_sam_embedding_cache_total", app="sam", result="miss")
    hits = metric_value(sam, "gmner_sam_embedding_cache_total", app="sam", result="hit")
    image = _jpeg(ImageOps.mirror(two_people()))  # two people in a new image, never sent before
    # Without knowledge the tagger's answer does not hang on what the small LLM writes: three PER.
    body = _post(
        stack, "Eileen Collins , Sally Ride and Mae Jemison smile for the camera", image, use_knowledge="false"
    )
    people = [e for e in body["entities"] if e["type"] == "PER"]
    assert len(people) == 3
    placed = [e for e in people if e["box"] is not None]
    # Two people: the first two names each get one (left to right), the third name none, not a shared box.
    assert len(placed) == 2 and placed[0]["box"] != placed[1]["box"]
    assert all(e["mask"] is not None for e in placed)
    assert people[2]["box"] is None and people[2]["mask"] is None
    # One image, two boxes: one encoder run, however many boxes.
    assert metric_value(sam, "gmner_sam_embedding_cache_total", app="sam", result="miss") == misses + 1
    assert metric_value(sam, "gmner_sam_embedding_cache_total", app="sam", result="hit") == hits


def test_sam_down_degrades_masks_only(stack: EmbeddedStack, tmp_path: Path) -> None:
    with extra_gateway(stack, tmp_path, sam=down()) as gateway:
        body = _post(gateway, POST, _jpeg(astronaut()))
    person = next(e for e in body["entities"] if e["type"] == "PER")
    assert person["box"] is not None and person["mask"] is None
    assert person["degraded"] == ["sam"] and person["visual_reason"] == "stage_failed"
    assert body["degraded"] == ["sam"]
