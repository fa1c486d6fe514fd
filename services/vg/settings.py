"""Settings of the VG app (env prefix `GMNER_VG_`; nested fields with `__`, e.g. `GMNER_VG_VLM__MODEL`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from engines.vision.faces import PersonBoxRule
from services.visual.settings import VisualStageSettings
from shared.app_registry import APPS


class VGSettings(VisualStageSettings):
    """Device, torch threads, image limits and the detector / OCR / faces / VLM configs: `VisualStageSettings`."""

    model_config = SettingsConfigDict(env_prefix="GMNER_VG_")

    port: int = Field(default=APPS["vg"].port, description="Port the VG app listens on.")
    backend: Literal["detector", "faces", "owlv2", "grounding-dino", "vlm"] = Field(
        default="detector",
        description=(
            "`detector`: the bundled COCO-80 detector and OCR (embedded default); `faces`: the bundled "
            "face detector, PER only; `owlv2` / `grounding-dino`: open-vocabulary detectors "
            "(production); `vlm`: a vision-language model (production)."
        ),
    )
    min_score: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="A box scoring below this is answered as null (0: always the best box).",
    )

    # owlv2 / grounding-dino: a local path or hub id (e.g. google/owlv2-base-patch16-ensemble,
    # IDEA-Research/grounding-dino-tiny), and the text query per expression. Fields: {entity}, {type},
    # {description} (the entity when the expression has none), {expression}. Detectors know categories
    # ("a basketball player"), not names ("Kevin Durant"), hence the description by default.
    detector_model: str | None = Field(
        default=None,
        description="owlv2 / grounding-dino: a local path or hub id (e.g. google/owlv2-base-patch16-ensemble).",
    )
    detector_query: str = Field(
        default="{description}",
        description=(
            "owlv2 / grounding-dino: the text query per expression; fields {entity}, {type}, "
            "{description}, {expression}."
        ),
    )
    detector_dtype: Literal["float32", "float16", "bfloat16"] = Field(
        default="float32", description="owlv2 / grounding-dino: the model's dtype."
    )

    vlm_prompt: str = Field(
        default=(
            'Locate {entity} ({description}) in the image. Reply with JSON only: {{"box": [x1, y1, x2, y2]}} with '
            'the pixel coordinates of the box around it in this {width}x{height} image, or {{"box": null}} if it '
            "is not visible."
        ),
        description="vlm: the prompt (fields as `detector_query`, plus {width} and {height} of the image sent).",
    )
    vlm_coordinates: Literal["pixels", "norm1000", "norm1"] = Field(
        default="pixels",
        description=(
            "vlm: how the model writes coordinates: `pixels` of the image sent (Qwen2.5-VL), `norm1000` "
            "(0-1000) or `norm1` (0-1)."
        ),
    )

    person_box: PersonBoxRule = Field(
        default_factory=PersonBoxRule, description="faces: how a face box becomes a person box."
    )
    faces_extra_per: Literal["largest", "none"] = Field(
        default="largest",
        description=(
            "faces: more PER entities than people found: the extra ones get the largest person "
            "(`largest`) or null (`none`)."
        ),
    )
    faces_non_per: Literal["none", "image"] = Field(
        default="none",
        description="faces: non-PER entities get null (`none`) or the whole image with score 0 (`image`).",
    )
