"""Serving logic shared by the stages that answer once per referring expression (VE, VG)."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from engines.vision.pipeline import VisualBackend
from shared.images import ImageCache
from shared.protocol.visual import VisualExpression
from shared.settings import ImageLimits

ResultT = TypeVar("ResultT")


class ExpressionServing(Generic[ResultT]):
    """Checks beyond the schema, the image decoded once (LRU by content hash), then one backend call."""

    def __init__(
        self,
        backend: VisualBackend[list[VisualExpression], list[ResultT]],
        image_limits: ImageLimits,
    ) -> None:
        self.backend = backend
        self.images = ImageCache(image_limits)

    async def results(
        self, image_bytes: bytes, expressions: list[VisualExpression], text: str | None = None
    ) -> list[ResultT]:
        image = await asyncio.to_thread(self.images.decode, image_bytes)
        results = await self.backend.run_post(image, expressions, text)
        if len(results) != len(expressions):  # a backend bug, not bad input
            raise RuntimeError(f"backend {self.backend.name} gave {len(results)} results for {len(expressions)}")
        return results
