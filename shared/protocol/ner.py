"""`POST /v1/ner`."""

from __future__ import annotations

from pydantic import Field

from shared.protocol.common import Entity, NonEmptyText, StrictModel


class NERRequest(StrictModel):
    text: NonEmptyText
    caption: str | None = Field(default=None, description="Optional image caption given to the knowledge prompt.")
    use_knowledge: bool | None = Field(
        default=None, description="Run the LLM knowledge step; null uses the service setting."
    )
    knowledge: str | None = Field(
        default=None, description="Auxiliary knowledge given by the caller; skips the LLM knowledge step."
    )
    return_knowledge: bool = Field(default=False, description="Include the knowledge text in the answer.")


class NERResponse(StrictModel):
    entities: list[Entity]
    knowledge: str | None = None
    knowledge_used: bool = False
    knowledge_error: str | None = Field(
        default=None, description="Why knowledge was wanted but not used (LLM down, say)."
    )
    backend: str
