"""`POST /v1/gmner`: the public API."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, StrictBool

from shared.protocol.common import BoundedText, Box, EntityType, PostText, RLEMask, StrictModel


class Task(StrEnum):
    MNER = "mner"  # text only
    GMNER = "gmner"  # + groundability and boxes
    SMNER = "smner"  # + masks


class GMNERJSONRequest(StrictModel):
    text: PostText
    image_b64: str | None = Field(default=None, description="Base64 image bytes; omit for text only.")
    caption: BoundedText | None = None
    tasks: Task = Task.SMNER
    use_knowledge: StrictBool | None = None  # strict: `0` or `"yes"` is a 422
    knowledge: str | None = Field(
        default=None, description="Auxiliary knowledge to use instead of asking the LLM (e.g. a dataset's file)."
    )
    stream: StrictBool = Field(
        default=False,
        description="Answer Server-Sent Events as the stages finish (as `Accept: text/event-stream` does).",
    )


class VisualReason(StrEnum):
    """Why an entity's visual fields are null."""

    NOT_REQUESTED = "not_requested"  # task mner, or gmner for masks
    NO_IMAGE = "no_image"
    NOT_GROUNDABLE = "not_groundable"  # VE said the entity is not in the image
    NOT_FOUND = "not_found"  # VG found no region for a groundable entity
    AMBIGUOUS = "ambiguous"  # VG saw several candidates and could not tell which: see `candidate_boxes`
    STAGE_FAILED = "stage_failed"  # see `degraded`
    NOT_IMPLEMENTED = "visual_stages_not_deployed"


class GMNEREntity(StrictModel):
    text: str
    type: EntityType
    start: int
    end: int
    expression: str | None = None
    groundable: bool | None = None
    groundable_score: float | None = None
    box: Box | None = None
    box_score: float | None = None
    candidate_boxes: list[Box] | None = Field(
        default=None,
        exclude_if=lambda v: v is None,  # absent unless set: answers without candidates are as they were
        description="When VG could not tell several candidates apart: all of them (`box` is a guess, or null).",
    )
    mask: RLEMask | None = None
    mask_score: float | None = None
    visual_reason: VisualReason | None = Field(default=None, description="Set when groundable/box/mask are null: why.")
    degraded: list[str] = Field(default_factory=list, description="Stages that failed for this entity.")


class GMNERResponse(StrictModel):
    request_id: str
    text: str
    tasks: Task
    entities: list[GMNEREntity]
    knowledge: str | None = None
    degraded: list[str] = Field(default_factory=list, description="Stages that failed for any part of the answer.")
    timings_ms: dict[str, float] = Field(default_factory=dict)
