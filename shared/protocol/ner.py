"""`POST /v1/ner`."""

from __future__ import annotations

from pydantic import Field, StrictBool

from shared.protocol.common import BoundedText, Entity, PostText, StrictModel


class NERRequest(StrictModel):
    text: PostText
    caption: BoundedText | None = Field(
        default=None, description="Optional image caption given to the knowledge prompt."
    )
    # Strict: `0`, `1` or `"yes"` are a 422, not a silently coerced boolean.
    use_knowledge: StrictBool | None = Field(
        default=None, description="Run the LLM knowledge step; null uses the service setting."
    )
    knowledge: str | None = Field(
        default=None, description="Auxiliary knowledge given by the caller; skips the LLM knowledge step."
    )
    return_knowledge: StrictBool = Field(default=False, description="Include the knowledge text in the answer.")


class NERResponse(StrictModel):
    entities: list[Entity]
    knowledge: str | None = None
    knowledge_used: bool = False
    knowledge_error: str | None = Field(
        default=None, description="Why knowledge was wanted but not used (LLM down, say)."
    )
    backend: str
