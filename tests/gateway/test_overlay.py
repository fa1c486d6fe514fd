"""The visual answer: masks, boxes and labels land on the right pixels; the PNG route and the page are served."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pycocotools import mask as mask_utils

from gateway.app import create_app
from gateway.inputs import Post
from gateway.overlay import MASK_ALPHA, PALETTE, entity_colour, render_overlay, render_overlay_png
from gateway.settings import GatewaySettings
from shared.images import DecodedImage
from shared.limits import TEXT_LIMITS
from shared.protocol.common import EntityType, RLEMask
from shared.protocol.gateway import GMNEREntity, GMNERResponse, Task, VisualReason
from tests.conftest import closed_port_url

GREY = (100, 100, 100)
WIDTH, HEIGHT = 200, 160


def rle(mask: np.ndarray) -> RLEMask:
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return RLEMask(size=[int(v) for v in encoded["size"]], counts=encoded["counts"].decode("ascii"))


def rect_mask(height: int, width: int, y1: int, y2: int, x1: int, x2: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[y1:y2, x1:x2] = True
    return mask


def entities() -> list[GMNEREntity]:
    return [
        GMNEREntity(
            text="Eileen Collins",
            type=EntityType.PER,
            start=10,
            end=24,
            groundable=True,
            box=[20, 40, 120, 140],
            mask=rle(rect_mask(HEIGHT, WIDTH, 60, 120, 40, 100)),
        ),
        GMNEREntity(
            text="NASA",
            type=EntityType.ORG,
            start=0,
            end=4,
            groundable=False,
            visual_reason=VisualReason.NOT_GROUNDABLE,
        ),
        GMNEREntity(text="Florida", type=EntityType.LOC, start=30, end=37, groundable=True, box=[130, 60, 190, 150]),
    ]


def blend(base: tuple[int, int, int], colour: tuple[int, int, int], alpha: float) -> np.ndarray:
    return np.array(base) * (1 - alpha) + np.array(colour) * alpha


@pytest.fixture
def drawn() -> np.ndarray:
    image = Image.new("RGB", (WIDTH, HEIGHT), GREY)
    out = render_overlay(image, entities())
    assert out.size == (WIDTH, HEIGHT)
    assert out.mode == "RGB"
    return np.asarray(out).astype(int)


def test_mask_is_a_semi_transparent_fill_of_the_entity_colour(drawn: np.ndarray) -> None:
    inside = drawn[90, 70]  # row, column inside the mask
    assert np.abs(inside - blend(GREY, entity_colour(0), MASK_ALPHA / 255)).max() <= 2
    # The whole mask, away from its edges, is filled the same way.
    region = drawn[62:118, 42:98].reshape(-1, 3)
    assert np.abs(region - blend(GREY, entity_colour(0), MASK_ALPHA / 255)).max() <= 2


def test_box_outline_in_the_entity_colour(drawn: np.ndarray) -> None:
    assert tuple(drawn[100, 20]) == entity_colour(0)  # left edge
    assert tuple(drawn[140, 70]) == entity_colour(0)  # bottom edge
    assert tuple(drawn[100, 120]) == entity_colour(0)  # right edge
    # Entity 1 has no box and keeps its colour slot: the box-only entity 2 gets colour 2.
    assert tuple(drawn[100, 130]) == entity_colour(2)
    assert tuple(drawn[150, 160]) == entity_colour(2)


def test_pixels_outside_every_mask_and_box_are_unchanged(drawn: np.ndarray) -> None:
    assert tuple(drawn[150, 10]) == GREY  # outside everything
    assert tuple(drawn[130, 30]) == GREY  # inside box 0, outside its mask
    assert tuple(drawn[100, 160]) == GREY  # inside box 2 (no mask)
    # Nothing drawn in entity 1's colour: it is not in the image.
    assert not (drawn == np.array(entity_colour(1))).all(axis=-1).any()


def test_label_is_drawn_above_the_box(drawn: np.ndarray) -> None:
    # The label's background is a filled rectangle of the entity colour just above the box's top-left corner...
    assert tuple(drawn[39, 21]) == entity_colour(0)
    label = drawn[20:40, 20:120]
    # ...with text on it: white ink on this dark blue.
    assert (label >= 240).all(axis=-1).sum() > 20


def test_label_inside_the_box_when_there_is_no_room_above() -> None:
    image = Image.new("RGB", (WIDTH, HEIGHT), GREY)
    entity = GMNEREntity(text="Moon", type=EntityType.LOC, start=0, end=4, box=[50, 2, 150, 100])
    out = np.asarray(render_overlay(image, [entity])).astype(int)
    assert tuple(out[3, 51]) == entity_colour(0)  # background (padding) of a label starting at the box top


def test_mask_without_box_is_drawn_and_labelled() -> None:
    image = Image.new("RGB", (WIDTH, HEIGHT), GREY)
    entity = GMNEREntity(
        text="Earth", type=EntityType.LOC, start=0, end=5, mask=rle(rect_mask(HEIGHT, WIDTH, 80, 150, 100, 180))
    )
    out = np.asarray(render_overlay(image, [entity])).astype(int)
    assert np.abs(out[140, 170] - blend(GREY, entity_colour(0), MASK_ALPHA / 255)).max() <= 2
    assert tuple(out[79, 101]) == entity_colour(0)  # label above the mask's top-left corner


def test_a_mask_of_another_size_is_scaled_to_the_image() -> None:
    image = Image.new("RGB", (WIDTH, HEIGHT), GREY)
    half = rle(rect_mask(HEIGHT // 2, WIDTH // 2, 40, 80, 50, 100))  # the lower-right quarter at half size
    entity = GMNEREntity(text="X", type=EntityType.MISC, start=0, end=1, mask=half)
    out = np.asarray(render_overlay(image, [entity])).astype(int)
    assert np.abs(out[150, 190] - blend(GREY, entity_colour(0), MASK_ALPHA / 255)).max() <= 2
    assert tuple(out[10, 10]) == GREY


def test_colours_are_distinct_and_cycle() -> None:
    assert len(set(PALETTE)) == len(PALETTE)
    assert entity_colour(len(PALETTE)) == entity_colour(0)


def test_png_from_bytes_applies_exif_orientation() -> None:
    # A 40x20 image stored rotated (EXIF orientation 6 = rotate 90° clockwise to display) is drawn as 20x40.
    stored = Image.new("RGB", (40, 20), GREY)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", exif=exif.tobytes())
    png = render_overlay_png(buffer.getvalue(), [])
    with Image.open(io.BytesIO(png)) as out:
        assert out.format == "PNG"
        assert out.size == (20, 40)


# ---------- the routes, with the pipeline stubbed (the stages are tested elsewhere) ----------


def png(size: tuple[int, int] = (WIDTH, HEIGHT)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, GREY).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def seen() -> list[Post]:
    return []


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, seen: list[Post]) -> Iterator[TestClient]:
    settings = GatewaySettings(
        ner_url=closed_port_url(), expansion_url=closed_port_url(), ve_url=None, vg_url=None, sam_url=None
    )
    app = create_app(settings)

    async def run(post: Post, decoded: DecodedImage | None = None) -> GMNERResponse:
        assert decoded is not None and (decoded.width, decoded.height) == (WIDTH, HEIGHT)
        seen.append(post)
        return GMNERResponse(request_id="r1", text=post.text, tasks=post.tasks, entities=entities(), degraded=["vg"])

    with TestClient(app) as test_client:
        monkeypatch.setattr(app.state.serving, "run", run)
        yield test_client


def test_overlay_route_answers_a_png_of_the_answer(client: TestClient, seen: list[Post]) -> None:
    response = client.post(
        "/v1/gmner/overlay",
        data={"text": "NASA: Eileen Collins in Florida", "tasks": "gmner"},
        files={"image": ("photo.png", png(), "image/png")},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-gmner-entities"] == "3"
    assert response.headers["x-gmner-grounded"] == "2"
    assert response.headers["x-gmner-degraded"] == "vg"
    assert seen[0].tasks is Task.GMNER
    with Image.open(io.BytesIO(response.content)) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    assert tuple(pixels[100, 20]) == entity_colour(0)


def test_overlay_route_takes_json_too(client: TestClient) -> None:
    body = {"text": "Eileen Collins", "image_b64": base64.b64encode(png()).decode()}
    response = client.post("/v1/gmner/overlay", json=body)
    assert response.status_code == 200
    assert response.content.startswith(b"\x89PNG")


def test_overlay_route_needs_an_image(client: TestClient) -> None:
    response = client.post("/v1/gmner/overlay", json={"text": "Eileen Collins"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "image_required"


def test_overlay_route_refuses_a_non_image(client: TestClient) -> None:
    response = client.post(
        "/v1/gmner/overlay", data={"text": "x"}, files={"image": ("notes.txt", b"just some text", "text/plain")}
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "not_an_image"


def test_page_and_its_files_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for asset in ("/static/app.js", "/static/rle.js", "/static/style.css"):
        assert f'"{asset}"' in page.text
        assert client.get(asset).status_code == 200
    # The text box stops where the API's one text limit would refuse the post.
    assert f'maxlength="{TEXT_LIMITS.max_text_chars}"' in page.text
    assert "{{" not in page.text
    # Offline by design: no file of the page loads anything from another host.
    for name in ("/", "/static/app.js", "/static/style.css"):
        assert "https://" not in client.get(name).text
