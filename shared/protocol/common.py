"""Types used by more than one stage."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


class EntityType(StrEnum):
    PER = "PER"
    LOC = "LOC"
    ORG = "ORG"
    MISC = "MISC"


NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_box(box: list[float]) -> list[float]:
    if not all(math.isfinite(v) for v in box):
        raise ValueError("box coordinates must be finite numbers")
    x1, y1, x2, y2 = box
    if x2 <= x1 or y2 <= y1:
        raise ValueError("box must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1")
    return box


# The one box type of every schema; clipping to an image needs the image, so stages do that.
Box = Annotated[
    list[float],
    Field(min_length=4, max_length=4, description="[x1, y1, x2, y2] in original-image pixels."),
    AfterValidator(_check_box),
]


class RLEMask(StrictModel):
    """COCO run-length encoding, as `pycocotools.mask.encode` writes it (counts as a string)."""

    size: list[int] = Field(min_length=2, max_length=2, description="[height, width]")
    counts: str


class Entity(StrictModel):
    """A named entity found in the text: surface form, type and character offsets [start, end)."""

    text: str
    type: EntityType
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    score: float | None = None


class EntityRef(StrictModel):
    """An entity as the later stages need it: surface text and type."""

    text: NonEmptyText
    type: EntityType


class ImagePayload(StrictModel):
    """An image carried inside a JSON body as base64 (standard alphabet, padding optional)."""

    image_b64: str = Field(min_length=1, description="Base64-encoded JPEG/PNG/WebP/GIF bytes.")


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable reason, e.g. `image_too_large`.")
    message: str = Field(description="Human-readable reason.")
    stage: str | None = Field(default=None, description="The stage the error came from, if any.")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class HealthResponse(BaseModel):
    status: str
    app: str


class ReadyResponse(BaseModel):
    ready: bool
    app: str
    checks: dict[str, str] = Field(default_factory=dict)
