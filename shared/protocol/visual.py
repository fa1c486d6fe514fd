"""`POST /v1/entail`, `POST /v1/ground`, `POST /v1/segment`: the visual stages.

Each request carries the post's image once, with every expression or box of that post, so a
stage decodes (and, for SAM, embeds) the image once per call.

Two request encodings, one schema:
- `multipart/form-data` with a part `request` (the `*Params` JSON below) and a part `image` (the
  encoded image bytes as they came from the client). The gateway sends this: no base64 (+33% bytes
  and an encode/decode per stage), and the metadata stays a JSON document of any size, which a
  header could not carry.
- `application/json` with the same fields plus `image_b64` (`*Request`), for curl and old clients.
"""

from __future__ import annotations

from pydantic import Field

from shared.protocol.common import Box, EntityType, PostText, RLEMask, StrictModel

MAX_ITEMS_PER_CALL = 64


class VisualExpression(StrictModel):
    """A referring expression and the entity it came from (backends may use either)."""

    entity: PostText
    type: EntityType
    expression: PostText


class EntailParams(StrictModel):
    expressions: list[VisualExpression] = Field(min_length=1, max_length=MAX_ITEMS_PER_CALL)
    text: PostText | None = Field(
        default=None, description="The post's text: it can place a named person outside the photo, or on the left."
    )


class EntailRequest(EntailParams):
    image_b64: str = Field(min_length=1)


class Entailment(StrictModel):
    groundable: bool
    score: float


class EntailResponse(StrictModel):
    results: list[Entailment]
    backend: str


class GroundParams(StrictModel):
    expressions: list[VisualExpression] = Field(min_length=1, max_length=MAX_ITEMS_PER_CALL)
    text: PostText | None = Field(
        default=None, description="The post's text: it can place a named person outside the photo, or on the left."
    )


class GroundRequest(GroundParams):
    image_b64: str = Field(min_length=1)


class Grounding(StrictModel):
    box: Box | None = Field(description="[x1, y1, x2, y2] in original pixels; null if nothing found.")
    score: float
    candidate_boxes: list[Box] | None = Field(
        default=None,
        # Left out of the answer when not set, so answers without candidates are what they always were.
        exclude_if=lambda v: v is None,
        description="Set when nothing told several candidates apart (e.g. two people, two names): all of them. "
        "`box` is then the backend's guess, or null when it abstains. Absent otherwise.",
    )


class GroundResponse(StrictModel):
    results: list[Grounding]
    backend: str


class SegmentParams(StrictModel):
    boxes: list[Box] = Field(
        min_length=1, max_length=MAX_ITEMS_PER_CALL, description="Boxes [x1, y1, x2, y2] in original pixels."
    )


class SegmentRequest(SegmentParams):
    image_b64: str = Field(min_length=1)


class Segmentation(StrictModel):
    mask: RLEMask
    area: int
    score: float


class SegmentResponse(StrictModel):
    results: list[Segmentation]
    backend: str
    embedding_cached: bool = False
