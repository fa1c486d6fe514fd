"""The VG app: `uvicorn services.vg.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from services.vg.backends import VGBackend, load_backend
from services.vg.router import router
from services.vg.serving import ServingGround
from services.vg.settings import VGSettings
from shared.model_app import create_model_app

APP_NAME = "vg"


def create_app(settings: VGSettings | None = None, backend: VGBackend | None = None) -> FastAPI:
    """`backend` lets a caller (tests) hand in an already loaded model."""
    settings = settings or VGSettings()
    return create_model_app(
        name=APP_NAME,
        settings=settings,
        router=router,
        description="Visual grounding: a box in the image for each referring expression.",
        backend_name=settings.backend,
        load=lambda: load_backend(settings),
        make_serving=lambda loaded: ServingGround(loaded, settings),
        backend=backend,
        torch_threads=settings.torch_threads,
    )
