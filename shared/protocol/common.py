"""Types used by more than one stage."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from shared.limits import TEXT_LIMITS


class EntityType(StrEnum):
    PER = "PER"
    LOC = "LOC"
    ORG = "ORG"
    MISC = "MISC"


def _no_nul(text: str) -> str:
    # A NUL is never part of a post's text: refused (as it always was) to keep it out of prompts, logs and cache keys.
    if "\x00" in text:
        raise PydanticCustomError("nul_character", "must not contain a NUL character")
    return text


def _not_blank(text: str) -> str:
    if not text.strip():
        raise PydanticCustomError("blank_text", "must not be blank (only whitespace)")
    return text


# User text of any field (a caption, say): at most `GMNER_MAX_TEXT_CHARS` characters, no NUL; may be blank.
BoundedText = Annotated[str, StringConstraints(max_length=TEXT_LIMITS.max_text_chars), AfterValidator(_no_nul)]
# The text a stage works on (the post, an entity, a referring expression): bounded as above and not blank.
# Every app enforces it at its boundary through its request schema (a 422 naming the field and the limit).
PostText = Annotated[BoundedText, StringConstraints(min_length=1), AfterValidator(_not_blank)]


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

    text: PostText
    type: EntityType


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
