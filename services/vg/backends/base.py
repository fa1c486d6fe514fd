"""The VG backend interface, shaped like a Hugging Face pipeline: preprocess -> _forward -> postprocess.

`_forward` returns one `(box, score)` per expression, the box `(x1, y1, x2, y2)` in original-image pixels or
None; `postprocess` clips boxes to the image, drops empty ones and those scoring under `min_score`.
CPU/GPU-bound backends run their synchronous `__call__` in a worker thread (`run`); I/O-bound backends (the
VLM) override `run`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any

from shared.images import DecodedImage
from shared.protocol.visual import Grounding, VisualExpression
from shared.vision.boxes import Box, clip_box, is_degenerate, round_box

Scored = tuple[Box | None, float]


class VGBackend(ABC):
    name: str = "base"

    def __init__(self, min_score: float = 0.0) -> None:
        self.min_score = min_score

    def __call__(self, image: DecodedImage, expressions: list[VisualExpression]) -> list[Grounding]:
        inputs = self.preprocess(image, expressions)
        outputs = self._forward(inputs)
        return self.postprocess(image, outputs)

    async def run(self, image: DecodedImage, expressions: list[VisualExpression]) -> list[Grounding]:
        """The async entry point used by the app: a worker thread, so the event loop stays free."""
        return await asyncio.to_thread(self, image, expressions)

    def preprocess(self, image: DecodedImage, expressions: list[VisualExpression]) -> Any:
        return image, expressions

    @abstractmethod
    def _forward(self, inputs: Any) -> list[Scored]: ...

    def postprocess(self, image: DecodedImage, outputs: list[Scored]) -> list[Grounding]:
        return [to_grounding(box, score, image.width, image.height, self.min_score) for box, score in outputs]

    async def ready(self) -> str:
        """ "ok", or why the backend cannot serve (e.g. its server is down)."""
        return "ok"

    async def aclose(self) -> None:
        return None


def to_grounding(box: Box | None, score: float, width: int, height: int, min_score: float = 0.0) -> Grounding:
    score = round(float(score), 4)
    if box is None or score < min_score:
        return Grounding(box=None, score=score)
    clipped = clip_box(box, width, height)
    if is_degenerate(clipped):
        return Grounding(box=None, score=0.0)
    return Grounding(box=round_box(clipped), score=score)
