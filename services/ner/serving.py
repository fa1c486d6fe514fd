"""The NER service's logic: the knowledge step, then the tagger."""

from __future__ import annotations

import asyncio
import logging

from engines.llm.client import LLMClient, LLMError
from engines.llm.entity_list import as_plim
from engines.ner.knowledge.generation import KnowledgeGenerator
from engines.ner.knowledge.prompting import KnowledgePrompt
from engines.ner.listed_entities import complete_with_listed
from services.ner.backends import NERBackend
from services.ner.settings import NERSettings
from shared.protocol.ner import NERRequest, NERResponse

logger = logging.getLogger(__name__)


class ServingNER:
    def __init__(
        self,
        settings: NERSettings,
        backend: NERBackend,
        prompt: KnowledgePrompt | None,
        llm: LLMClient | None,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.knowledge = KnowledgeGenerator(prompt, llm) if prompt is not None and llm is not None else None

    async def recognise(self, request: NERRequest) -> NERResponse:
        text = request.text
        knowledge, error = await self._knowledge(request)
        # The tagger was trained on PLIM answers: a listed answer is read in that form (the caller gets it as written).
        context = as_plim(knowledge)[: self.settings.knowledge_max_chars] if knowledge else None
        entities = await asyncio.to_thread(self.backend, text, context)
        if knowledge and self.settings.knowledge_adds_listed and self.backend.supports_context:
            entities = complete_with_listed(text, entities, knowledge)
        return NERResponse(
            entities=entities,
            knowledge=knowledge if request.return_knowledge else None,
            knowledge_used=context is not None and self.backend.supports_context,
            knowledge_error=error,
            backend=self.backend.name,
        )

    async def generate_knowledge(self, text: str, caption: str | None) -> str:
        """Ask the LLM for auxiliary knowledge about the post, in the configured prompt form."""
        if self.knowledge is None:
            raise LLMError("the knowledge step is disabled in this service's settings")
        return await self.knowledge.generate(text, caption)

    async def _knowledge(self, request: NERRequest) -> tuple[str | None, str | None]:
        if request.knowledge is not None:
            return request.knowledge.strip() or None, None
        default = self.settings.knowledge_enabled and self.settings.knowledge_by_default
        wanted = default if request.use_knowledge is None else request.use_knowledge
        if not wanted or not self.backend.supports_context:
            return None, None
        try:
            knowledge = await self.generate_knowledge(request.text, request.caption)
        except LLMError as exc:
            # The tagger still answers without knowledge; the caller sees why in `knowledge_error`.
            logger.warning("knowledge step failed", extra={"error": str(exc)})
            return None, str(exc)
        return knowledge or None, None
