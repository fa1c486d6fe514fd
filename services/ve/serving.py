"""`ServingEntail`: one VE answer per referring expression of a post."""

from __future__ import annotations

from services.ve.backends import VEBackend
from services.ve.settings import VESettings
from services.visual.serving import ExpressionServing
from shared.protocol.visual import Entailment, EntailParams, EntailResponse


class ServingEntail(ExpressionServing[Entailment]):
    def __init__(self, backend: VEBackend, settings: VESettings) -> None:
        super().__init__(backend, settings.image)
        self.settings = settings

    async def entail(self, params: EntailParams, image: bytes) -> EntailResponse:
        results = await self.results(image, params.expressions, params.text)
        return EntailResponse(results=results, backend=self.backend.name)
