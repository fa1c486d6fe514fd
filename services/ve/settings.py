"""Settings of the VE app (env prefix `GMNER_VE_`; nested fields with `__`, e.g. `GMNER_VE_VLM__MODEL`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.apps import APPS
from shared.protocol.common import EntityType
from shared.vision.settings import VisualStageSettings


class VESettings(VisualStageSettings):
    """Device, torch threads, image limits and the detector / OCR / faces / VLM configs: `VisualStageSettings`."""

    model_config = SettingsConfigDict(env_prefix="GMNER_VE_")

    port: int = APPS["ve"].port
    # `detector` (embedded default: the bundled COCO-80 detector + type priors as fallback), `faces`
    # (bundled face detector + type priors), `clip` (a CLIP/SigLIP model,
    # production), `vlm` (an OpenAI-compatible vision-language model asked yes/no, production).
    backend: Literal["detector", "faces", "clip", "vlm"] = "detector"
    # `groundable = score >= threshold`; null takes the backend's default (see the README's calibration notes).
    threshold: float | None = None

    # clip: a local path or hub id of a CLIP or SigLIP checkpoint (AutoModel + AutoProcessor).
    clip_model: str | None = None
    # The text scored against the image. Fields: {entity}, {type}, {description}, {expression}.
    clip_template: str = "a photo of {entity}, {description}"
    clip_dtype: Literal["float32", "float16", "bfloat16"] = "float32"

    # vlm: the question asked per expression (same fields as `clip_template`).
    vlm_question: str = (
        "Is {entity} ({description}) visible in this image? Answer yes only if {entity} itself can be seen. "
        "Answer yes or no."
    )

    # faces: the score given to each non-PER type (PER's is the best person's score).
    # Defaults: the share of entities of that type that have a box in Twitter-GMNER v2's train split
    # (exact name match; PER is 0.65 for comparison). All are under 0.5, so with the default threshold
    # those types are never groundable: the best a constant answer can do on that data.
    faces_priors: dict[EntityType, float] = Field(
        default_factory=lambda: {EntityType.LOC: 0.09, EntityType.ORG: 0.27, EntityType.MISC: 0.26}
    )
    # (The detector backend uses `faces_priors` too, as its fallback for non-PER types.)
