"""The VG app: `uvicorn services.vg.app:create_app --factory`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.vg.backends import VGBackend, load_backend
from services.vg.router import router
from services.vg.serving import ServingGround
from services.vg.settings import VGSettings
from shared.app import create_app as create_base_app
from shared.lifecycle import timed_load

APP_NAME = "vg"


def create_app(settings: VGSettings | None = None, backend: VGBackend | None = None) -> FastAPI:
    """`backend` lets a caller (tests, the embedded runner) hand in an already loaded model."""
    settings = settings or VGSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.torch_threads:
            import torch

            torch.set_num_threads(settings.torch_threads)
        loaded = backend
        if loaded is None:
            loaded = await asyncio.to_thread(timed_load, APP_NAME, settings.backend, lambda: load_backend(settings))
        app.state.serving = ServingGround(loaded, settings)
        try:
            yield
        finally:
            app.state.serving = None
            if backend is None:  # a backend handed in belongs to the caller
                await loaded.aclose()

    async def readiness(app: FastAPI) -> dict[str, str]:
        serving: ServingGround | None = getattr(app.state, "serving", None)
        if serving is None:
            return {"model": "loading"}
        return {"model": await serving.backend.ready()}

    app = create_base_app(
        name=APP_NAME,
        settings=settings,
        lifespan=lifespan,
        readiness=readiness,
        description="Visual grounding: a box in the image for each referring expression.",
    )
    app.include_router(router)
    return app
