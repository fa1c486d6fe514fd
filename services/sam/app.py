"""The SAM app: `uvicorn services.sam.app:create_app --factory`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.sam.backends import load_backend
from services.sam.backends.base import SegmentBackend
from services.sam.router import router
from services.sam.serving import ServingSam
from services.sam.settings import SamSettings
from shared.app import create_app as create_base_app
from shared.lifecycle import timed_load

APP_NAME = "sam"


def create_app(settings: SamSettings | None = None, backend: SegmentBackend | None = None) -> FastAPI:
    """`backend` lets a caller (tests, the embedded runner) share an already loaded model."""
    settings = settings or SamSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = backend
        if loaded is None:
            loaded = timed_load(APP_NAME, settings.backend, lambda: load_backend(settings))
        app.state.serving = ServingSam(loaded, settings)
        try:
            yield
        finally:
            app.state.serving = None

    async def readiness(app: FastAPI) -> dict[str, str]:
        return {"model": "ok" if getattr(app.state, "serving", None) is not None else "loading"}

    app = create_base_app(
        name=APP_NAME,
        settings=settings,
        lifespan=lifespan,
        readiness=readiness,
        description="Segment Anything: image + boxes in, one COCO-RLE mask per box out.",
    )
    app.include_router(router)
    return app
