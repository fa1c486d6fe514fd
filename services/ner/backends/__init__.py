"""NER backends behind one interface; `load_backend` picks one from settings."""

from __future__ import annotations

from services.ner.backends.base import NERBackend
from services.ner.settings import NERSettings


def load_backend(settings: NERSettings) -> NERBackend:
    if settings.backend == "crf":
        from services.ner.backends.crf import CRFNERBackend

        return CRFNERBackend(settings.crf_model)
    if settings.backend == "spacy":
        from services.ner.backends.spacy_backend import SpacyNERBackend

        return SpacyNERBackend(settings.spacy_model)
    if settings.backend == "transformers":
        from services.ner.backends.transformers_backend import TransformersNERBackend

        if not settings.hf_model:
            raise ValueError("GMNER_NER_HF_MODEL must name a local path or hub id for the transformers backend")
        return TransformersNERBackend(
            settings.hf_model, scheme=settings.hf_scheme, max_length=settings.hf_max_length, device=settings.device
        )
    raise ValueError(f"unknown NER backend {settings.backend!r}")


__all__ = ["NERBackend", "load_backend"]
