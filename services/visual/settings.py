"""Settings common to the two visual stages that answer per referring expression (VE and VG).

Each app subclasses this with its own env prefix (`GMNER_VE_`, `GMNER_VG_`) and adds its backend choice and
its own models; nested fields use `__` (e.g. `GMNER_VG_VLM__MODEL`, `GMNER_VE_DETECTOR__TIMEOUT_S`).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from engines.vision.detector import DetectorConfig
from engines.vision.evidence_cache import EvidenceCacheConfig
from engines.vision.faces import FaceDetectorConfig
from engines.vision.grounder import GroundingConfig
from engines.vision.ocr import OCRConfig
from engines.vision.vlm import VLMConfig
from shared.settings import AppSettings, ImageLimits


class VisualStageSettings(AppSettings):
    model_config = SettingsConfigDict(extra="ignore", env_file=None, env_nested_delimiter="__")

    device: str = Field(default="cpu", description="Torch device of the torch backends: `cpu`, `cuda`, `cuda:1`, ...")
    # 0 leaves torch's default; a small number keeps one app from taking every core of a shared machine.
    torch_threads: int = Field(default=0, ge=0, description="Torch's intra-op threads; 0 leaves torch's default.")
    image: ImageLimits = Field(default_factory=ImageLimits, description="Limits on the images this app decodes.")

    detector: DetectorConfig = Field(
        default_factory=DetectorConfig,
        description="detector backend: the Node worker running the bundled COCO-80 CenterNet.",
    )
    ocr: OCRConfig = Field(
        default_factory=OCRConfig,
        description=("detector backend: names written in the image (rapidocr PP-OCRv4), run only where it can help."),
    )
    # ... and how an expression is matched to that evidence (give VE and VG the same values) ...
    grounding: GroundingConfig = Field(
        default_factory=GroundingConfig,
        description="detector backend: how expressions are matched to the evidence (engines/vision/grounder.py); "
        "give VE and VG the same values, so the two stages decide alike.",
    )
    # ... computed once per image when VE and VG share a Redis.
    evidence_cache: EvidenceCacheConfig = Field(
        default_factory=EvidenceCacheConfig,
        description="detector backend: detections and OCR lines shared between VE and VG through Redis, so one "
        "post's image is read once (engines/vision/evidence_cache.py).",
    )
    faces: FaceDetectorConfig = Field(
        default_factory=FaceDetectorConfig,
        description="faces backend: the bundled person detector (MTCNN, optional Haar cascades).",
    )
    vlm: VLMConfig = Field(
        default_factory=VLMConfig, description="vlm backend: the OpenAI-compatible vision-language server (production)."
    )
