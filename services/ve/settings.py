"""Settings of the VE app (env prefix `GMNER_VE_`; nested fields with `__`, e.g. `GMNER_VE_VLM__MODEL`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.visual.settings import VisualStageSettings
from shared.app_registry import APPS
from shared.protocol.common import EntityType


class VESettings(VisualStageSettings):
    """Device, torch threads, image limits and the detector / OCR / faces / VLM configs: `VisualStageSettings`."""

    model_config = SettingsConfigDict(env_prefix="GMNER_VE_")

    port: int = Field(default=APPS["ve"].port, description="Port the VE app listens on.")
    backend: Literal["detector", "faces", "clip", "vlm"] = Field(
        default="detector",
        description=(
            "`detector`: the bundled COCO-80 detector and OCR (embedded default); `faces`: the bundled "
            "face detector; `clip`: a CLIP or SigLIP model (production); `vlm`: a vision-language model "
            "asked yes or no (production)."
        ),
    )
    threshold: float | None = Field(
        default=None,
        description=(
            "`groundable = score >= threshold`; null: the backend's default (detector 0.2, faces 0.5, "
            "CLIP 0.25, SigLIP 0.1)."
        ),
    )

    clip_model: str | None = Field(
        default=None, description="clip: a local path or hub id of a CLIP or SigLIP checkpoint."
    )
    clip_template: str = Field(
        default="a photo of {entity}, {description}",
        description=("clip: the text scored against the image; fields {entity}, {type}, {description}, {expression}."),
    )
    clip_dtype: Literal["float32", "float16", "bfloat16"] = Field(
        default="float32", description="clip: the model's dtype."
    )

    vlm_question: str = Field(
        default=(
            "Is {entity} ({description}) visible in this image? Answer yes only if {entity} itself can be seen. "
            "Answer yes or no."
        ),
        description="vlm: the question asked per expression (fields as `clip_template`).",
    )

    # faces: the score given to each non-PER type (PER's is the best person's score).
    # Defaults: the share of entities of that type that have a box in Twitter-GMNER v2's train split
    # (exact name match; PER is 0.65 for comparison). All are under 0.5, so with the default threshold
    # those types are never groundable: the best a constant answer can do on that data.
    faces_priors: dict[EntityType, float] = Field(
        default_factory=lambda: {EntityType.LOC: 0.09, EntityType.ORG: 0.27, EntityType.MISC: 0.26},
        description="faces and detector: the score given to each non-PER type without evidence (JSON object).",
    )
    # (The detector backend uses `faces_priors` too, as its fallback for non-PER types.)
