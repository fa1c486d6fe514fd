"""`ServingGround`: checks beyond the schema, the image decoded once (LRU by hash), then the backend."""

from __future__ import annotations

import asyncio

from services.vg.backends import VGBackend
from services.vg.settings import VGSettings
from shared.images import ImageCache
from shared.protocol.visual import GroundRequest, GroundResponse
from shared.vision.expressions import check_expressions


class ServingGround:
    def __init__(self, backend: VGBackend, settings: VGSettings) -> None:
        self.backend = backend
        self.settings = settings
        self.images = ImageCache(settings.image)

    async def ground(self, request: GroundRequest) -> GroundResponse:
        check_expressions(request.expressions, self.settings.max_text_chars)
        image = await asyncio.to_thread(self.images.decode_b64, request.image_b64)
        results = await self.backend.run(image, request.expressions)
        if len(results) != len(request.expressions):  # a backend bug, not bad input
            raise RuntimeError(
                f"backend {self.backend.name} gave {len(results)} results for {len(request.expressions)}"
            )
        return GroundResponse(results=results, backend=self.backend.name)
