"""The knowledge step itself: the post's prompt (one of the prompt forms), one LLM call, the answer."""

from __future__ import annotations

import asyncio

from engines.llm.client import LLMClient
from engines.ner.knowledge.prompting import KnowledgePrompt


class KnowledgeGenerator:
    """Writes the auxiliary knowledge of a post; the NER service and `gmner knowledge` share it."""

    def __init__(self, prompt: KnowledgePrompt, llm: LLMClient) -> None:
        self.prompt = prompt
        self.llm = llm

    async def generate(self, text: str, caption: str | None) -> str:
        # Building the prompt may embed the post (the `similar` form): CPU work, off the event loop.
        call = await asyncio.to_thread(self.prompt.build, text, caption)
        answer = await self.llm.complete(call.prompt, system=call.system, max_tokens=call.max_tokens, stop=call.stop)
        return answer.strip()
