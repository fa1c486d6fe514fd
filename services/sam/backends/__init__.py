"""SAM backends behind one interface; `load_backend` picks one from settings.

Every backend is a `segment_anything.modeling.Sam` served by `PredictorBackend` (one code path): only how
the model is built and loaded differs.
"""

from __future__ import annotations

import torch

from services.sam.backends.base import MaskResult, SegmentBackend, SegmentOutput
from services.sam.backends.predictor import PredictorBackend
from services.sam.settings import SamSettings


def load_backend(settings: SamSettings) -> PredictorBackend:
    if settings.torch_threads > 0:
        torch.set_num_threads(settings.torch_threads)
    if settings.backend == "litemedsam":
        from services.sam.backends.litemedsam import load_litemedsam

        model = load_litemedsam(settings.litemedsam_checkpoint)
        name = "litemedsam"
    elif settings.backend == "sam":
        from services.sam.backends.vit import load_sam

        if not settings.checkpoint:
            raise ValueError("GMNER_SAM_CHECKPOINT must name a segment-anything .pth file for the sam backend")
        model = load_sam(settings.checkpoint, settings.model_type)
        name = f"sam-{settings.model_type}" if settings.model_type != "auto" else "sam"
    else:
        raise ValueError(f"unknown SAM backend {settings.backend!r}")
    return PredictorBackend.from_settings(model, name, settings)


__all__ = ["MaskResult", "PredictorBackend", "SegmentBackend", "SegmentOutput", "load_backend"]
