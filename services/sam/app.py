"""The SAM app: `uvicorn services.sam.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from services.sam.backends import load_backend
from services.sam.backends.base import SegmentBackend
from services.sam.router import router
from services.sam.serving import ServingSam
from services.sam.settings import SamSettings
from shared.model_app import create_model_app

APP_NAME = "sam"


def create_app(settings: SamSettings | None = None, backend: SegmentBackend | None = None) -> FastAPI:
    """`backend` lets a caller (tests) share an already loaded model."""
    settings = settings or SamSettings()
    return create_model_app(
        name=APP_NAME,
        settings=settings,
        router=router,
        description="Segment Anything: image + boxes in, one COCO-RLE mask per box out.",
        backend_name=settings.backend,
        load=lambda: load_backend(settings),
        make_serving=lambda loaded: ServingSam(loaded, settings),
        backend=backend,
    )
