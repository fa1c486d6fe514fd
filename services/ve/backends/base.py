"""The VE backend interface, shaped like a Hugging Face pipeline: preprocess -> _forward -> postprocess.

`_forward` returns one score per expression; `postprocess` applies the threshold. CPU/GPU-bound backends
run their synchronous `__call__` in a worker thread (`run`); I/O-bound backends (the VLM) override `run`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any

from shared.images import DecodedImage
from shared.protocol.visual import Entailment, VisualExpression


class VEBackend(ABC):
    name: str = "base"
    # The threshold used when the settings leave it null.
    default_threshold: float = 0.5

    def __init__(self, threshold: float | None = None) -> None:
        self.threshold = self.default_threshold if threshold is None else threshold

    def __call__(self, image: DecodedImage, expressions: list[VisualExpression]) -> list[Entailment]:
        inputs = self.preprocess(image, expressions)
        scores = self._forward(inputs)
        return self.postprocess(scores)

    async def run(self, image: DecodedImage, expressions: list[VisualExpression]) -> list[Entailment]:
        """The async entry point used by the app: a worker thread, so the event loop stays free."""
        return await asyncio.to_thread(self, image, expressions)

    def preprocess(self, image: DecodedImage, expressions: list[VisualExpression]) -> Any:
        return image, expressions

    @abstractmethod
    def _forward(self, inputs: Any) -> list[float]: ...

    def postprocess(self, scores: list[float]) -> list[Entailment]:
        return [Entailment(groundable=score >= self.threshold, score=round(float(score), 4)) for score in scores]

    async def ready(self) -> str:
        """ "ok", or why the backend cannot serve (e.g. its server is down)."""
        return "ok"

    async def aclose(self) -> None:
        return None
