"""Settings of the VG app (env prefix `GMNER_VG_`; nested fields with `__`, e.g. `GMNER_VG_VLM__MODEL`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.apps import APPS
from shared.vision.faces import PersonBoxRule
from shared.vision.settings import VisualStageSettings


class VGSettings(VisualStageSettings):
    """Device, torch threads, image limits and the detector / OCR / faces / VLM configs: `VisualStageSettings`."""

    model_config = SettingsConfigDict(env_prefix="GMNER_VG_")

    port: int = APPS["vg"].port
    # `detector` (embedded default: the bundled COCO-80 detector, see shared/vision/detector.py), `faces`
    # (bundled face detector, PER only), `owlv2` / `grounding-dino` (open-vocabulary
    # detectors via transformers, production), `vlm` (an OpenAI-compatible vision-language model, production).
    backend: Literal["detector", "faces", "owlv2", "grounding-dino", "vlm"] = "detector"
    # A box scoring below this is answered as null (0 = always the best box).
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)

    # owlv2 / grounding-dino: a local path or hub id (e.g. google/owlv2-base-patch16-ensemble,
    # IDEA-Research/grounding-dino-tiny), and the text query per expression. Fields: {entity}, {type},
    # {description} (the entity when the expression has none), {expression}. Detectors know categories
    # ("a basketball player"), not names ("Kevin Durant"), hence the description by default.
    detector_model: str | None = None
    detector_query: str = "{description}"
    detector_dtype: Literal["float32", "float16", "bfloat16"] = "float32"

    # vlm: the prompt (fields as above plus {width} and {height}, the size of the image sent) and
    # how the model writes coordinates: "pixels" of the image sent (Qwen2.5-VL), "norm1000" (0-1000,
    # Qwen2-VL and others) or "norm1" (0-1).
    vlm_prompt: str = (
        'Locate {entity} ({description}) in the image. Reply with JSON only: {{"box": [x1, y1, x2, y2]}} with '
        'the pixel coordinates of the box around it in this {width}x{height} image, or {{"box": null}} if it '
        "is not visible."
    )
    vlm_coordinates: Literal["pixels", "norm1000", "norm1"] = "pixels"

    # faces: the face -> person box rule, and the documented assignment rules.
    person_box: PersonBoxRule = Field(default_factory=PersonBoxRule)
    # More PER entities than people found: the extra ones get the largest person ("largest") or null ("none").
    faces_extra_per: Literal["largest", "none"] = "largest"
    # Non-PER entities: null ("none") or the whole image ("image", score 0).
    faces_non_per: Literal["none", "image"] = "none"
