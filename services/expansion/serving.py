"""The expansion service's logic: one LLM call per entity, all entities of a post concurrently.

An entity that the post's knowledge already describes (the listed form, `Name (type) – description`, see
engines.llm.entity_list) takes that description without an LLM call.
"""

from __future__ import annotations

import asyncio

from engines.llm.client import LLMClient, LLMError
from engines.llm.entity_list import descriptions_by_name, name_key
from engines.llm.prompting import first_sentence
from services.expansion.prompt import build_expansion_prompt, referring_expression
from services.expansion.settings import ExpansionSettings
from shared.errors import InvalidInput, StageUnavailable
from shared.protocol.common import EntityRef
from shared.protocol.expansion import ExpandRequest, ExpandResponse, Expression

STOP = ["\n\nBackground:", "\nBackground:", "\nText:", "\nQuestion:"]


class ServingExpansion:
    def __init__(self, settings: ExpansionSettings, llm: LLMClient) -> None:
        self.settings = settings
        self.llm = llm

    async def expand(self, request: ExpandRequest) -> ExpandResponse:
        text = request.text
        for entity in request.entities:
            if entity.text not in text:
                raise InvalidInput("entity_not_in_text", f"Entity {entity.text!r} does not occur in the text.")
        background = " ".join(part for part in (request.knowledge, request.caption) if part)
        background = background[: self.settings.max_background_chars]
        listed = descriptions_by_name(request.knowledge) if self.settings.reuse_listed_descriptions else {}
        try:
            expressions = await asyncio.gather(
                *(self._expand_one(text, background, e, listed.get(name_key(e.text))) for e in request.entities)
            )
        except LLMError as exc:
            raise StageUnavailable("llm_unavailable", f"The LLM could not answer: {exc}") from exc
        return ExpandResponse(expressions=list(expressions))

    async def _expand_one(self, text: str, background: str, entity: EntityRef, listed: str | None) -> Expression:
        if listed is None:
            prompt = build_expansion_prompt(background, text, entity.text)
            answer = await self.llm.complete(prompt, max_tokens=self.settings.max_tokens, stop=STOP)
        else:
            answer = listed
        description = first_sentence(answer, self.settings.max_description_chars)
        return Expression(
            entity=entity.text,
            type=entity.type,
            description=description,
            expression=referring_expression(entity.text, entity.type.value, description),
        )
