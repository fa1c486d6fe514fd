"""A vision-language model behind an OpenAI-compatible server (production), asked for one JSON box per
expression, constrained with vLLM's structured output (`"structured_outputs": {"json": <schema>}`).

The answer is validated against `BoxAnswer` (a tolerant parser also accepts Qwen's native
`[{"bbox_2d": [...], "label": ...}]` and code fences, for servers without structured output), mapped from
the model's coordinates (`vlm_coordinates`) to original-image pixels and checked against the image: a box
reaching more than 5% beyond the image, or with x2 <= x1 / y2 <= y1, is rejected. A malformed or rejected
answer gives `box: null, score: 0` (logged), never an error. A valid box scores 1.0: the model gives no
calibrated confidence. An unreachable server is a 503 (`vlm_unavailable`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engines.vision.boxes import Box
from engines.vision.expressions import fill
from engines.vision.vlm import EncodedImage, VisionChatClient, VLMConfig, VLMError
from services.vg.backends.base import Scored, VGBackend, to_grounding
from shared.errors import StageUnavailable
from shared.images import DecodedImage
from shared.protocol.visual import Grounding, VisualExpression

logger = logging.getLogger(__name__)

# How far a box may reach outside the image (as a fraction of its side) before it counts as invalid.
TOLERANCE = 0.05


class BoxAnswer(BaseModel):
    """What the model must answer: `{"box": [x1, y1, x2, y2]}` or `{"box": null}`."""

    model_config = ConfigDict(extra="ignore")

    box: Annotated[list[float], Field(min_length=4, max_length=4)] | None


BOX_SCHEMA: dict[str, Any] = BoxAnswer.model_json_schema()
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


def parse_box_answer(text: str) -> BoxAnswer | None:
    """The model's box, or None when the answer is not one (not JSON, wrong shape)."""
    cleaned = _FENCE.sub("", text.strip())
    try:
        data: Any = json.loads(cleaned)
    except ValueError:
        match = re.search(r"[\[{].*[\]}]", cleaned, re.DOTALL)
        if match is None:
            return None
        try:
            data = json.loads(match.group())
        except ValueError:
            return None
    if isinstance(data, list) and data and all(isinstance(v, (int, float)) for v in data):
        data = {"box": data}
    elif isinstance(data, list):
        data = data[0] if data else {"box": None}
    if isinstance(data, dict) and "box" not in data:
        for key in ("bbox_2d", "bbox"):
            if key in data:
                data = {"box": data[key]}
                break
    try:
        return BoxAnswer.model_validate(data)
    except ValidationError:
        return None


def to_image_box(answer: BoxAnswer, coordinates: str, sent: EncodedImage, width: int, height: int) -> Box | None:
    """The answer's box in original-image pixels, or None if it is absent or does not fit the image."""
    if answer.box is None:
        return None
    x1, y1, x2, y2 = answer.box
    if coordinates == "pixels":
        sx, sy = width / sent.width, height / sent.height
    elif coordinates == "norm1000":
        sx, sy = width / 1000, height / 1000
    else:
        sx, sy = float(width), float(height)
    box = (x1 * sx, y1 * sy, x2 * sx, y2 * sy)
    tx, ty = TOLERANCE * width, TOLERANCE * height
    if box[2] <= box[0] or box[3] <= box[1]:
        return None
    if box[0] < -tx or box[1] < -ty or box[2] > width + tx or box[3] > height + ty:
        return None
    return box


class VLMVGBackend(VGBackend):
    """Not a pipeline: the model runs on the server, so `run` is the whole backend."""

    name = "vlm"

    def __init__(
        self,
        config: VLMConfig,
        *,
        prompt: str,
        coordinates: str = "pixels",
        min_score: float = 0.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.min_score = min_score
        self.config = config
        self.prompt = prompt
        self.coordinates = coordinates
        self.client = VisionChatClient(config, app="vg", client=client)
        self.rejected = 0  # answers that were malformed or did not fit the image

    async def run(self, image: DecodedImage, expressions: list[VisualExpression]) -> list[Grounding]:
        encoded = await asyncio.to_thread(self.client.encode, image.image)
        try:
            outputs = await asyncio.gather(*(self._ask(image, encoded, e) for e in expressions))
        except VLMError as exc:
            raise StageUnavailable("vlm_unavailable", str(exc)) from exc
        return [to_grounding(box, score, image.width, image.height, self.min_score) for box, score in outputs]

    async def _ask(self, image: DecodedImage, encoded: EncodedImage, expression: VisualExpression) -> Scored:
        prompt = fill(self.prompt, expression, width=encoded.width, height=encoded.height)
        answer = await self.client.ask(encoded, prompt, structured_outputs={"json": BOX_SCHEMA})
        parsed = parse_box_answer(answer.text)
        if parsed is None:
            self.rejected += 1
            logger.warning("VLM box answer is malformed; box left null", extra={"answer": answer.text[:120]})
            return None, 0.0
        box = to_image_box(parsed, self.coordinates, encoded, image.width, image.height)
        if box is None:
            if parsed.box is not None:
                self.rejected += 1
                logger.warning("VLM box does not fit the image; box left null", extra={"answer": answer.text[:120]})
            return None, 0.0
        return box, 1.0

    async def ready(self) -> str:
        return "ok" if await self.client.ready() else f"the VLM server at {self.config.base_url} does not answer"

    async def aclose(self) -> None:
        await self.client.aclose()
