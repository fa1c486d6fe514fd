"""The VE app: `uvicorn services.ve.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from services.ve.backends import VEBackend, load_backend
from services.ve.router import router
from services.ve.serving import ServingEntail
from services.ve.settings import VESettings
from shared.model_app import create_model_app

APP_NAME = "ve"


def create_app(settings: VESettings | None = None, backend: VEBackend | None = None) -> FastAPI:
    """`backend` lets a caller (tests) hand in an already loaded model."""
    settings = settings or VESettings()
    return create_model_app(
        name=APP_NAME,
        settings=settings,
        router=router,
        description="Visual entailment: is the entity of each referring expression in the image?",
        backend_name=settings.backend,
        load=lambda: load_backend(settings),
        make_serving=lambda loaded: ServingEntail(loaded, settings),
        backend=backend,
        torch_threads=settings.torch_threads,
    )
