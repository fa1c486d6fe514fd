"""VE backends behind one interface; `load_backend` picks one from settings."""

from __future__ import annotations

from services.ve.backends.base import VEBackend, VEPipeline
from services.ve.settings import VESettings


def load_backend(settings: VESettings) -> VEBackend:
    if settings.backend == "detector":
        from engines.vision.evidence_cache import EvidenceCache
        from services.ve.backends.detector import DetectorVEBackend

        return DetectorVEBackend(
            settings.detector,
            settings.faces_priors,
            settings.ocr,
            threshold=settings.threshold,
            grounding=settings.grounding,
            cache=EvidenceCache(settings.evidence_cache) if settings.evidence_cache.enabled else None,
        )
    if settings.backend == "faces":
        from services.ve.backends.faces import FacesVEBackend

        return FacesVEBackend(
            settings.faces, settings.faces_priors, threshold=settings.threshold, device=settings.device
        )
    if settings.backend == "clip":
        from services.ve.backends.clip import ClipVEBackend

        if not settings.clip_model:
            raise ValueError("GMNER_VE_CLIP_MODEL must name a local path or hub id for the clip backend")
        return ClipVEBackend(
            settings.clip_model,
            template=settings.clip_template,
            threshold=settings.threshold,
            device=settings.device,
            dtype=settings.clip_dtype,
        )
    if settings.backend == "vlm":
        from services.ve.backends.vlm import VLMVEBackend

        return VLMVEBackend(settings.vlm, question=settings.vlm_question, threshold=settings.threshold)
    raise ValueError(f"unknown VE backend {settings.backend!r}")


__all__ = ["VEBackend", "VEPipeline", "load_backend"]
