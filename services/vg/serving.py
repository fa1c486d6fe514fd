"""`ServingGround`: one VG answer per referring expression of a post."""

from __future__ import annotations

from services.vg.backends import VGBackend
from services.vg.settings import VGSettings
from services.visual.serving import ExpressionServing
from shared.protocol.visual import Grounding, GroundParams, GroundResponse


class ServingGround(ExpressionServing[Grounding]):
    def __init__(self, backend: VGBackend, settings: VGSettings) -> None:
        super().__init__(backend, settings.image)
        self.settings = settings

    async def ground(self, params: GroundParams, image: bytes) -> GroundResponse:
        results = await self.results(image, params.expressions, params.text)
        return GroundResponse(results=results, backend=self.backend.name)
