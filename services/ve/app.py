"""The VE app: `uvicorn services.ve.app:create_app --factory`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.ve.backends import VEBackend, load_backend
from services.ve.router import router
from services.ve.serving import ServingEntail
from services.ve.settings import VESettings
from shared.app import create_app as create_base_app
from shared.lifecycle import timed_load

APP_NAME = "ve"


def create_app(settings: VESettings | None = None, backend: VEBackend | None = None) -> FastAPI:
    """`backend` lets a caller (tests, the embedded runner) hand in an already loaded model."""
    settings = settings or VESettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.torch_threads:
            import torch

            torch.set_num_threads(settings.torch_threads)
        loaded = backend
        if loaded is None:
            loaded = await asyncio.to_thread(timed_load, APP_NAME, settings.backend, lambda: load_backend(settings))
        app.state.serving = ServingEntail(loaded, settings)
        try:
            yield
        finally:
            app.state.serving = None
            if backend is None:  # a backend handed in belongs to the caller
                await loaded.aclose()

    async def readiness(app: FastAPI) -> dict[str, str]:
        serving: ServingEntail | None = getattr(app.state, "serving", None)
        if serving is None:
            return {"model": "loading"}
        return {"model": await serving.backend.ready()}

    app = create_base_app(
        name=APP_NAME,
        settings=settings,
        lifespan=lifespan,
        readiness=readiness,
        description="Visual entailment: is the entity of each referring expression in the image?",
    )
    app.include_router(router)
    return app
