"""`ServingEntail`: checks beyond the schema, the image decoded once (LRU by hash), then the backend."""

from __future__ import annotations

import asyncio

from services.ve.backends import VEBackend
from services.ve.settings import VESettings
from shared.images import ImageCache
from shared.protocol.visual import EntailRequest, EntailResponse
from shared.vision.expressions import check_expressions


class ServingEntail:
    def __init__(self, backend: VEBackend, settings: VESettings) -> None:
        self.backend = backend
        self.settings = settings
        self.images = ImageCache(settings.image)

    async def entail(self, request: EntailRequest) -> EntailResponse:
        check_expressions(request.expressions, self.settings.max_text_chars)
        image = await asyncio.to_thread(self.images.decode_b64, request.image_b64)
        results = await self.backend.run(image, request.expressions)
        if len(results) != len(request.expressions):  # a backend bug, not bad input
            raise RuntimeError(
                f"backend {self.backend.name} gave {len(results)} results for {len(request.expressions)}"
            )
        return EntailResponse(results=results, backend=self.backend.name)
