"""VG backends behind one interface; `load_backend` picks one from settings."""

from __future__ import annotations

from services.vg.backends.base import VGBackend, VGPipeline
from services.vg.settings import VGSettings


def load_backend(settings: VGSettings) -> VGBackend:
    if settings.backend == "detector":
        from engines.vision.evidence_cache import EvidenceCache
        from services.vg.backends.detector import DetectorVGBackend

        return DetectorVGBackend(
            settings.detector,
            settings.ocr,
            min_score=settings.min_score,
            grounding=settings.grounding,
            cache=EvidenceCache(settings.evidence_cache) if settings.evidence_cache.enabled else None,
        )
    if settings.backend == "faces":
        from services.vg.backends.faces import FacesVGBackend

        return FacesVGBackend(
            settings.faces,
            settings.person_box,
            extra_per=settings.faces_extra_per,
            non_per=settings.faces_non_per,
            min_score=settings.min_score,
            device=settings.device,
        )
    if settings.backend in ("owlv2", "grounding-dino"):
        from services.vg.backends.open_vocabulary import GroundingDinoVGBackend, Owlv2VGBackend

        if not settings.detector_model:
            raise ValueError(f"GMNER_VG_DETECTOR_MODEL must name a local path or hub id for {settings.backend}")
        cls = Owlv2VGBackend if settings.backend == "owlv2" else GroundingDinoVGBackend
        return cls(
            settings.detector_model,
            query=settings.detector_query,
            device=settings.device,
            dtype=settings.detector_dtype,
            min_score=settings.min_score,
        )
    if settings.backend == "vlm":
        from services.vg.backends.vlm import VLMVGBackend

        return VLMVGBackend(
            settings.vlm, prompt=settings.vlm_prompt, coordinates=settings.vlm_coordinates, min_score=settings.min_score
        )
    raise ValueError(f"unknown VG backend {settings.backend!r}")


__all__ = ["VGBackend", "VGPipeline", "load_backend"]
