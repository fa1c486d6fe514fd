"""Types used by more than one stage."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class EntityType(StrEnum):
    PER = "PER"
    LOC = "LOC"
    ORG = "ORG"
    MISC = "MISC"


NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
