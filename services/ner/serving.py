"""The NER service's logic: the knowledge step, then the tagger."""

from __future__ import annotations

import asyncio
import logging

from services.ner.backends import NERBackend
from services.ner.knowledge.prompt import SYSTEM, build_knowledge_prompt
from services.ner.knowledge.selector import ExampleSelector
from services.ner.settings import NERSettings
from shared.llm.client import LLMClient, LLMError
from shared.protocol.ner import NERRequest, NERResponse

logger = logging.getLogger(__name__)

KNOWLEDGE_STOP = ["\n\nText:", "\nText:", "\nQuestion:"]


class ServingNER:
    def __init__(
        self,
        settings: NERSettings,
        backend: NERBackend,
        selector: ExampleSelector | None,
        llm: LLMClient | None,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.selector = selector
        self.llm = llm

    async def recognise(self, request: NERRequest) -> NERResponse:
        text = request.text
        knowledge, error = await self._knowledge(request)
        context = knowledge[: self.settings.knowledge_max_chars] if knowledge else None
        entities = await asyncio.to_thread(self.backend, text, context)
        return NERResponse(
            entities=entities,
            knowledge=knowledge if request.return_knowledge else None,
            knowledge_used=context is not None and self.backend.supports_context,
            knowledge_error=error,
            backend=self.backend.name,
        )

    async def generate_knowledge(self, text: str, caption: str | None) -> str:
        """Ask the LLM for auxiliary knowledge about the post, few-shot with the most similar examples."""
        if self.llm is None or self.selector is None:
            raise LLMError("the knowledge step is disabled in this service's settings")
        examples = await asyncio.to_thread(self.selector.select, text, self.settings.examples_k)
        prompt = build_knowledge_prompt(text, caption, examples)
        return await self.llm.complete(
            prompt, system=SYSTEM, max_tokens=self.settings.knowledge_max_tokens, stop=KNOWLEDGE_STOP
        )

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
