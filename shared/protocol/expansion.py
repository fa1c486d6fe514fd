"""`POST /v1/expand`."""

from __future__ import annotations

from pydantic import Field

from shared.protocol.common import BoundedText, EntityRef, EntityType, PostText, StrictModel

MAX_EXPAND_ENTITIES = 32


class ExpandRequest(StrictModel):
    text: PostText
    caption: BoundedText | None = None
    knowledge: str | None = Field(default=None, description="The NER step's auxiliary knowledge, as background.")
    entities: list[EntityRef] = Field(min_length=1, max_length=MAX_EXPAND_ENTITIES)


class Expression(StrictModel):
    entity: str
    type: EntityType
    description: str = Field(description="The LLM's short description of the entity.")
    expression: str = Field(description="`Name (TYPE) – description`, the referring expression.")


class ExpandResponse(StrictModel):
    expressions: list[Expression]
