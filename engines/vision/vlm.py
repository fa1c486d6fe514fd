"""A small client for an OpenAI-compatible chat server with image input (e.g. Qwen2.5-VL served by vLLM).

The image travels as a `data:` URL in an `image_url` content part, re-encoded as JPEG at a bounded size,
once per call. The transport (retries, timeouts, readiness, errors) is the text LLM's:
`engines.llm.openai_api`.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import math
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from engines.llm.openai_api import OpenAIAPIError, OpenAICompatibleAPI

logger = logging.getLogger(__name__)


class VLMConfig(BaseModel):
    """Where the vision-language model is served. Env: `GMNER_VE_VLM__<FIELD>` / `GMNER_VG_VLM__<FIELD>`."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(
        default="http://127.0.0.1:8011/v1",
        description="Base URL of the OpenAI-compatible vision-language server (e.g. vLLM).",
    )
    model: str = Field(default="Qwen/Qwen2.5-VL-7B-Instruct", description="The model name sent with every request.")
    api_key: str = Field(default="not-needed", description="Bearer token for the server.")
    timeout_s: float = Field(default=60.0, gt=0, description="Timeout of one call, in seconds.")
    retries: int = Field(default=1, ge=0, description="Retries of a failed call.")
    max_tokens: int = Field(default=64, ge=1, description="Most tokens of an answer.")
    concurrency: int = Field(
        default=8, ge=1, description="Requests in flight to the server from one app call (one per expression)."
    )
    # The image is shrunk to this longest side (fewer vision tokens) ...
    max_side: int = Field(
        default=1280,
        ge=28,
        description="The image is shrunk to this longest side before it is sent (fewer vision tokens).",
    )
    # ... and each side rounded to a multiple of this. 28 suits Qwen2.5-VL: its processor then does not
    # resize again, so the pixel coordinates it answers are those of the image we sent. 1 = no rounding.
    resize_multiple: int = Field(
        default=28,
        ge=1,
        description=(
            "Each side of the image sent is rounded to a multiple of this (28 suits Qwen2.5-VL); 1: no rounding."
        ),
    )
    jpeg_quality: int = Field(default=90, ge=30, le=100, description="JPEG quality of the image sent.")
    structured_outputs: bool = Field(
        default=True,
        description=(
            "Constrain answers with vLLM's `structured_outputs` (vLLM >= 0.12); off for servers that do not know it."
        ),
    )
    logprobs: bool = Field(
        default=True,
        description="Ask for token log-probabilities (VE's yes/no score); off for servers that refuse them.",
    )


class VLMError(OpenAIAPIError):
    """The VLM server gave no usable answer (down, timed out, refused, or an answer without a message)."""


@dataclass(frozen=True)
class EncodedImage:
    url: str
    width: int  # the size of the image sent, which the model's pixel coordinates refer to
    height: int


@dataclass(frozen=True)
class ChatAnswer:
    text: str
    # Top log-probabilities of the first generated token, when asked for and given: {token: logprob}.
    first_token_logprobs: dict[str, float] | None


def encode_image(image: Image.Image, *, max_side: int, multiple: int = 1, quality: int = 90) -> EncodedImage:
    """JPEG data URL of `image`, longest side at most `max_side`, sides rounded to `multiple`."""
    scale = min(1.0, max_side / max(image.size))
    width, height = image.width * scale, image.height * scale
    if multiple > 1:
        width = max(multiple, round(width / multiple) * multiple)
        height = max(multiple, round(height / multiple) * multiple)
        # Rounding up may overshoot max_side by less than one multiple; round down there instead.
        if width > max_side:
            width = max(multiple, math.floor(max_side / multiple) * multiple)
        if height > max_side:
            height = max(multiple, math.floor(max_side / multiple) * multiple)
    size = (max(1, int(width)), max(1, int(height)))
    resized = image if size == image.size else image.resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    resized.convert("RGB").save(buffer, format="JPEG", quality=quality)
    url = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return EncodedImage(url=url, width=size[0], height=size[1])


class VisionChatClient:
    """Deterministic (temperature 0) chat calls with one image and one question."""

    def __init__(self, config: VLMConfig, *, app: str, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._api = OpenAICompatibleAPI(config, app=app, name="VLM", error=VLMError, client=client)
        self._semaphore = asyncio.Semaphore(config.concurrency)

    async def aclose(self) -> None:
        await self._api.aclose()

    async def ready(self) -> bool:
        return await self._api.ready()

    def encode(self, image: Image.Image) -> EncodedImage:
        return encode_image(
            image,
            max_side=self.config.max_side,
            multiple=self.config.resize_multiple,
            quality=self.config.jpeg_quality,
        )

    async def ask(
        self,
        image: EncodedImage,
        question: str,
        *,
        structured_outputs: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        logprobs: int = 0,
    ) -> ChatAnswer:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": image.url}},
                        {"type": "text", "text": question},
                    ],
                }
            ],
            "temperature": 0.0,
            "max_tokens": max_tokens or self.config.max_tokens,
        }
        if structured_outputs is not None and self.config.structured_outputs:
            body["structured_outputs"] = structured_outputs
        if logprobs and self.config.logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = logprobs
        async with self._semaphore:
            payload = await self._api.post_json("chat/completions", body)
        return _parse_answer(payload)


def _parse_answer(payload: dict[str, Any]) -> ChatAnswer:
    try:
        choice = payload["choices"][0]
        text = choice["message"]["content"] or ""
    except (KeyError, IndexError, TypeError) as exc:
        raise VLMError(f"malformed VLM answer: {str(payload)[:200]}") from exc
    top: dict[str, float] | None = None
    try:
        first = choice["logprobs"]["content"][0]
        top = {str(item["token"]): float(item["logprob"]) for item in first.get("top_logprobs") or []}
        top.setdefault(str(first["token"]), float(first["logprob"]))
    except (KeyError, IndexError, TypeError, ValueError):
        top = None  # log-probabilities are optional
    return ChatAnswer(text=str(text).strip(), first_token_logprobs=top)
