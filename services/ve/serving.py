"""`ServingEntail`: one VE answer per referring expression of a post."""

from __future__ import annotations

from services.ve.backends import VEBackend
from services.ve.settings import VESettings
from shared.protocol.visual import Entailment, EntailRequest, EntailResponse
from shared.vision.serving import ExpressionServing


class ServingEntail(ExpressionServing[Entailment]):
    def __init__(self, backend: VEBackend, settings: VESettings) -> None:
        super().__init__(backend, settings.image)
        self.settings = settings

    async def entail(self, request: EntailRequest) -> EntailResponse:
        results = await self.results(request.image_b64, request.expressions)
        return EntailResponse(results=results, backend=self.backend.name)
