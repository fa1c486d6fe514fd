"""`POST /v1/entail`, `POST /v1/ground`, `POST /v1/segment`: the visual stages.

Each request carries the post's image once, with every expression or box of that post, so a
stage decodes (and, for SAM, embeds) the image once per call.
"""

from __future__ import annotations

from pydantic import Field

from shared.protocol.common import EntityType, NonEmptyText, StrictModel
from shared.protocol.gateway import RLEMask

MAX_ITEMS_PER_CALL = 64


class VisualExpression(StrictModel):
    """A referring expression and the entity it came from (backends may use either)."""

    entity: NonEmptyText
    type: EntityType
    expression: NonEmptyText


class EntailRequest(StrictModel):
    image_b64: str = Field(min_length=1)
    expressions: list[VisualExpression] = Field(min_length=1, max_length=MAX_ITEMS_PER_CALL)


class Entailment(StrictModel):
    groundable: bool
    score: float


class EntailResponse(StrictModel):
    results: list[Entailment]
    backend: str


class GroundRequest(StrictModel):
    image_b64: str = Field(min_length=1)
    expressions: list[VisualExpression] = Field(min_length=1, max_length=MAX_ITEMS_PER_CALL)


class Grounding(StrictModel):
    box: list[float] | None = Field(description="[x1, y1, x2, y2] in original pixels; null if nothing found.")
    score: float


class GroundResponse(StrictModel):
    results: list[Grounding]
    backend: str


class SegmentRequest(StrictModel):
    image_b64: str = Field(min_length=1)
    boxes: list[list[float]] = Field(
        min_length=1, max_length=MAX_ITEMS_PER_CALL, description="Boxes [x1, y1, x2, y2] in original pixels."
    )


class Segmentation(StrictModel):
    mask: RLEMask
    area: int
    score: float


class SegmentResponse(StrictModel):
    results: list[Segmentation]
    backend: str
    embedding_cached: bool = False
