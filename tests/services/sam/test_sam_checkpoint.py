"""The production `sam` backend's loading code, on a tiny random SAM saved to tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from pycocotools import mask as mask_utils
from segment_anything import sam_model_registry

from services.sam.app import create_app
from services.sam.backends.vit import REGISTRY, CheckpointError, infer_spec, load_sam, read_state_dict
from services.sam.settings import SamSettings

if TYPE_CHECKING:
    from segment_anything.modeling import Sam

    from tests.services.sam.conftest import Drawn


def test_tiny_checkpoint_serves_a_request(tiny_checkpoint: Path, drawn: Drawn) -> None:
    settings = SamSettings(backend="sam", checkpoint=str(tiny_checkpoint), log_json=False)
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").json()["ready"] is True
        resp = client.post("/v1/segment", json={"image_b64": drawn.b64, "boxes": [drawn.box, [0, 0, 50, 50]]})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert client.app.state.serving.encoder_runs == 1  # type: ignore[attr-defined]
    assert body["backend"] == "sam"
    assert len(body["results"]) == 2
    for result in body["results"]:
        mask = mask_utils.decode({"size": result["mask"]["size"], "counts": result["mask"]["counts"].encode()})
        assert mask.shape == (drawn.height, drawn.width)
        assert int(mask.sum()) == result["area"]
        assert np.isfinite(result["score"])


def test_loaded_weights_are_the_saved_ones(tiny_checkpoint: Path) -> None:
    loaded = load_sam(tiny_checkpoint)
    saved = torch.load(tiny_checkpoint, weights_only=True)
    assert loaded.image_encoder.img_size == 256
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, saved[key]), key


def test_wrapped_training_checkpoint_loads(tmp_path: Path, make_tiny_sam: Callable[..., Sam]) -> None:
    path = tmp_path / "wrapped.pth"
    state = make_tiny_sam().state_dict()
    torch.save({"model": state, "epoch": 3}, path)
    assert set(read_state_dict(path)) == set(state)


@pytest.mark.parametrize("model_type", ["vit_b", "vit_l", "vit_h"])
def test_official_shapes_are_recognised(model_type: str) -> None:
    # The meta device gives the real parameter shapes without allocating ViT-H's 2.5 GB.
    with torch.device("meta"):
        model = sam_model_registry[model_type]()
    assert infer_spec(model.state_dict()) == REGISTRY[model_type]


def test_named_type_must_match_the_checkpoint(tiny_checkpoint: Path) -> None:
    with pytest.raises(CheckpointError, match="not a SAM vit_b checkpoint"):
        load_sam(tiny_checkpoint, "vit_b")
    settings = SamSettings(backend="sam", model_type="vit_h", checkpoint=str(tiny_checkpoint), log_json=False)
    with pytest.raises(CheckpointError), TestClient(create_app(settings)):
        pass


def test_missing_or_bad_checkpoint_fails_at_startup(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_sam(tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not be read"):
        load_sam(junk)
    other = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not a segment-anything ViT checkpoint"):
        load_sam(other)
    with (
        pytest.raises(ValueError, match="GMNER_SAM_CHECKPOINT"),
        TestClient(create_app(SamSettings(backend="sam", log_json=False))),
    ):
        pass


def test_checkpoint_with_a_foreign_decoder_is_refused(tmp_path: Path, make_tiny_sam: Callable[..., Sam]) -> None:
    state = make_tiny_sam().state_dict()
    state["mask_decoder.extra.weight"] = torch.zeros(1)
    path = tmp_path / "extra.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_sam(path)
