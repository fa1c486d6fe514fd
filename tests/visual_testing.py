"""Helpers of the VE and VG tests: images, tiny random CLIP / OWLv2 / Grounding DINO checkpoints built
offline, and a fake OpenAI-compatible VLM server (a real HTTP server on a free port, in a thread).

The VG tests load this file by path (see tests/services/vg/conftest.py), so it is written once.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import string
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image

# The astronaut photograph (scikit-image, public domain), 512x512: where things are, measured by eye on
# the image with a grid drawn over it.
ASTRONAUT_FACE = (181.0, 62.0, 268.0, 172.0)  # MTCNN's face box: forehead to chin, cheek to cheek
ASTRONAUT_PERSON = (20.0, 15.0, 365.0, 512.0)  # hair to the bottom edge, suit sleeve to sleeve (no helmet)


def png_bytes(image: Image.Image | np.ndarray) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).convert("RGB")


def coffee() -> Image.Image:
    """A cup of coffee on a saucer: no person."""
    from skimage import data

    return Image.fromarray(data.coffee()).convert("RGB")


def two_people() -> Image.Image:
    """The astronaut at full size on the left and at half size on the right: a large and a small face."""
    photo = astronaut()
    canvas = Image.new("RGB", (800, 512), (128, 128, 128))
    canvas.paste(photo, (0, 0))
    canvas.paste(photo.resize((256, 256)), (530, 200))
    return canvas


def side_by_side(*images: Image.Image) -> Image.Image:
    """The images next to each other on a white canvas, left to right."""
    canvas = Image.new("RGB", (sum(i.width for i in images), max(i.height for i in images)), "white")
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width
    return canvas


def expr(entity: str, type_: str = "PER", description: str = "a person") -> dict[str, str]:
    return {"entity": entity, "type": type_, "expression": f"{entity} ({type_}) – {description}"}


# --- tiny random models, built offline -------------------------------------------------------------------


def tiny_clip_tokenizer() -> Any:
    """A CLIP BPE tokenizer over single characters (no merges). Ids are laid out the way OWL needs them:
    the pad token ("!") is 0, and <|endoftext|> has the highest id (OWL pools the text at argmax(ids) and
    treats a query whose first id is 0 as padding)."""
    from transformers import CLIPTokenizer

    chars = string.punctuation + string.digits + string.ascii_lowercase
    vocab: dict[str, int] = {}
    for ch in chars:
        vocab[ch] = len(vocab)
    for ch in chars:
        vocab[ch + "</w>"] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], pad_token="!", model_max_length=77)


def _tiny_text_config(tokenizer: Any, max_positions: int) -> dict[str, Any]:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": max_positions,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


def save_tiny_clip(path: Path) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    torch.manual_seed(0)
    tokenizer = tiny_clip_tokenizer()
    config = CLIPConfig(
        text_config=_tiny_text_config(tokenizer, 77),
        vision_config={
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
        },
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(path)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


def save_tiny_siglip(path: Path) -> Path:
    """A tiny SigLIP (sigmoid scores, a `logit_bias`); the character tokenizer stands in for its
    SentencePiece one, which cannot be built offline without a trained model file."""
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipProcessor

    torch.manual_seed(0)
    tokenizer = tiny_clip_tokenizer()
    tokenizer.model_max_length = 16
    config = SiglipConfig(
        text_config={**_tiny_text_config(tokenizer, 16), "projection_size": 32},
        vision_config={
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
        },
    )
    SiglipModel(config).save_pretrained(path)
    image_processor = SiglipImageProcessor(size={"height": 32, "width": 32})
    SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


def save_tiny_owlv2(path: Path) -> Path:
    import torch
    from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor, Owlv2Processor

    torch.manual_seed(0)
    tokenizer = tiny_clip_tokenizer()
    tokenizer.model_max_length = 16
    config = Owlv2Config(
        text_config=_tiny_text_config(tokenizer, 16),
        vision_config={
            "image_size": 64,
            "patch_size": 16,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
        },
        projection_dim=32,  # OWL's class head maps image features to the text width: they must match
    )
    model = Owlv2ForObjectDetection(config)
    # Random weights of std 1 saturate the box head's sigmoid into zero-size boxes; with its last layer
    # zeroed the tiny model predicts each patch's anchor box, which is a real (if dull) detection.
    torch.nn.init.zeros_(model.box_head.dense2.weight)
    model.save_pretrained(path)
    image_processor = Owlv2ImageProcessor(size={"height": 64, "width": 64})
    Owlv2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


def save_tiny_grounding_dino(path: Path) -> Path:
    import torch
    from transformers import (
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
        SwinConfig,
    )

    torch.manual_seed(0)
    # WordPiece over single characters: every lowercase word is spelt out as "a ##m ##e ...".
    letters = [*string.ascii_lowercase, *string.digits]
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *letters, *(f"##{c}" for c in letters)]
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(words)})
    backbone = SwinConfig(
        image_size=64,
        patch_size=4,
        embed_dim=8,
        depths=[1, 1],
        num_heads=[1, 1],
        window_size=4,
        out_features=["stage1", "stage2"],
    )
    config = GroundingDinoConfig(
        backbone_config=backbone,
        text_config={
            "model_type": "bert",
            "vocab_size": len(words),
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 16,
            "max_position_embeddings": 256,
        },
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,  # 1 breaks the tying of the per-layer box heads in transformers
        encoder_ffn_dim=16,
        decoder_ffn_dim=16,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        num_queries=8,
        num_feature_levels=2,
        encoder_n_points=2,
        decoder_n_points=2,
        max_text_len=256,
    )
    GroundingDinoForObjectDetection(config).save_pretrained(path)
    image_processor = GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 96})
    GroundingDinoProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


# --- a fake OpenAI-compatible server ---------------------------------------------------------------------

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def chat_completion(content: str, logprobs: dict[str, float] | None = None) -> dict[str, Any]:
    """An OpenAI chat-completion body with `content`, and first-token top log-probabilities if given."""
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    if logprobs:
        first = max(logprobs.items(), key=lambda kv: kv[1])
        choice["logprobs"] = {
            "content": [
                {
                    "token": first[0],
                    "logprob": first[1],
                    "top_logprobs": [{"token": t, "logprob": lp} for t, lp in logprobs.items()],
                }
            ]
        }
    return {"id": "chatcmpl-test", "object": "chat.completion", "model": "fake-vl", "choices": [choice]}


def question_of(body: dict[str, Any]) -> str:
    return next(p["text"] for p in body["messages"][0]["content"] if p["type"] == "text")


def image_url_of(body: dict[str, Any]) -> str:
    return next(p["image_url"]["url"] for p in body["messages"][0]["content"] if p["type"] == "image_url")


@dataclass
class FakeVLM:
    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    answer: Answer = field(default=lambda body: chat_completion("no"))


@contextmanager
def fake_vlm_server(answer: Answer) -> Iterator[FakeVLM]:
    """A real HTTP server (uvicorn + FastAPI) on a free local port that records each request body."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fake = FakeVLM(base_url=f"http://127.0.0.1:{port}/v1", answer=answer)
    app = FastAPI()

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "fake-vl", "object": "model"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        fake.requests.append(body)
        return JSONResponse(fake.answer(body))

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake VLM server did not start")
        time.sleep(0.02)
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def free_port_url() -> str:
    """A URL where nothing listens (a port that was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
