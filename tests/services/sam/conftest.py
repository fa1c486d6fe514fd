"""Fixtures of the SAM tests: images drawn here, the bundled LiteMedSAM model, a tiny random SAM checkpoint."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw
from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

from services.sam.app import create_app
from services.sam.backends.litemedsam import load_litemedsam
from services.sam.backends.predictor import PredictorBackend
from services.sam.settings import SamSettings


@dataclass(frozen=True)
class Drawn:
    png: bytes
    truth: np.ndarray  # bool (H, W): where the shape was drawn
    box: list[float]  # a box around the shape, with a margin

    @property
    def b64(self) -> str:
        return base64.b64encode(self.png).decode("ascii")

    @property
    def height(self) -> int:
        return int(self.truth.shape[0])

    @property
    def width(self) -> int:
        return int(self.truth.shape[1])


def draw_shape(seed: int = 0, width: int = 400, height: int = 300) -> Drawn:
    """A filled ellipse on a textured background (stripes plus noise), so the encoder has edges to ignore."""
    rng = np.random.default_rng(seed)
    xx = np.mgrid[0:height, 0:width][1]
    stripes = 40 * np.sin(xx / 6.0)[..., None] * np.array([1.0, 0.6, 0.3])
    background = (110 + stripes + rng.normal(0, 12, (height, width, 3))).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(background)
    shape = (int(width * 0.3), int(height * 0.27), int(width * 0.7), int(height * 0.73))
    ImageDraw.Draw(image).ellipse(shape, fill=(220, 40, 40))
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).ellipse(shape, fill=1)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    x1, y1, x2, y2 = shape
    return Drawn(buf.getvalue(), np.asarray(mask).astype(bool), [x1 - 6.0, y1 - 6.0, x2 + 6.0, y2 + 6.0])


def tiny_sam(img_size: int = 256) -> Sam:
    """A randomly initialised SAM with a 2-block, 32-wide ViT encoder, built from segment-anything's classes
    the way its `build_sam` does (the prompt encoder and mask decoder are the released architecture)."""
    torch.manual_seed(0)
    grid = img_size // 16
    return Sam(
        image_encoder=ImageEncoderViT(
            img_size=img_size,
            patch_size=16,
            embed_dim=32,
            depth=2,
            num_heads=2,
            mlp_ratio=2.0,
            out_chans=256,
            qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_rel_pos=True,
            window_size=14,
            global_attn_indexes=(1,),
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=256, image_embedding_size=(grid, grid), input_image_size=(img_size, img_size), mask_in_chans=16
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8),
            transformer_dim=256,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
    ).eval()


@pytest.fixture(scope="session")
def drawn() -> Drawn:
    return draw_shape()


# Helpers reach the tests as fixtures, not imports: `from conftest import ...` would pick whichever conftest
# module pytest imported last once other test folders have their own.
@pytest.fixture(scope="session")
def draw() -> Callable[..., Drawn]:
    return draw_shape


@pytest.fixture(scope="session")
def make_tiny_sam() -> Callable[..., Sam]:
    return tiny_sam


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sam") / "tiny_sam.pth"
    torch.save(tiny_sam().state_dict(), path)
    return path


@pytest.fixture(scope="session")
def litemedsam_model() -> Sam:
    return load_litemedsam()


ClientFactory = Callable[..., TestClient]


@pytest.fixture(scope="session")
def shared_client(litemedsam_model: Sam) -> Iterator[TestClient]:
    """One default app for tests that assert nothing about counters, so they share cached embeddings."""
    settings = SamSettings(log_json=False)
    app = create_app(settings, backend=PredictorBackend.from_settings(litemedsam_model, "litemedsam", settings))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def litemedsam_client(litemedsam_model: Sam) -> Iterator[ClientFactory]:
    """Starts the real app (lifespan included) on the already loaded LiteMedSAM weights, with fresh
    caches and counters per client; keyword arguments are SamSettings fields."""
    stack: list[TestClient] = []

    def make(backend_class: type[PredictorBackend] = PredictorBackend, **overrides: object) -> TestClient:
        settings = SamSettings(log_json=False, **overrides)  # type: ignore[arg-type]
        backend = backend_class.from_settings(litemedsam_model, "litemedsam", settings)
        client = TestClient(create_app(settings, backend=backend))
        client.__enter__()
        stack.append(client)
        return client

    yield make
    for client in reversed(stack):
        client.__exit__(None, None, None)
