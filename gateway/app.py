"""The gateway app: `uvicorn gateway.app:create_app --factory`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gateway.clients import StageClients
from gateway.overlay_router import STATIC_DIR, overlay_router, page_router
from gateway.router import router
from gateway.serving import GatewayServing
from gateway.settings import GatewaySettings
from shared.app import create_app as create_base_app
from shared.settings import ImageLimits

APP_NAME = "gateway"


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        clients = StageClients.from_settings(settings)
        app.state.serving = GatewayServing(settings, clients, ImageLimits())
        try:
            yield
        finally:
            await clients.aclose()

    async def readiness(app: FastAPI) -> dict[str, str]:
        serving: GatewayServing | None = getattr(app.state, "serving", None)
        if serving is None:
            return {"gateway": "starting"}
        clients = serving.clients.all()
        results = await asyncio.gather(*(c.get_ok("/ready") for c in clients))
        checks = {}
        for client, ok in zip(clients, results, strict=True):
            hard = client.stage == "ner"  # without NER nothing can be answered; others degrade
            if ok:
                checks[client.stage] = "ok"
            else:
                checks[client.stage] = "not ready" if hard else "degraded: not ready"
        return checks

    app = create_base_app(
        name=APP_NAME,
        settings=settings,
        lifespan=lifespan,
        readiness=readiness,
        description=(
            "Grounded multimodal named entity recognition: every named entity of a post with its type, "
            "referring expression, whether it is visible in the image, its box and its mask."
        ),
    )
    app.include_router(router)
    app.include_router(overlay_router)
    app.include_router(page_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
