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
from gateway.serving import ServingGateway
from gateway.settings import GatewaySettings
from shared.auth import APIKeys
from shared.base_app import create_base_app
from shared.http import StageClient
from shared.probes import CachedCheck
from shared.settings import ImageLimits

APP_NAME = "gateway"


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        clients = StageClients.from_settings(settings)
        app.state.serving = ServingGateway(settings, clients, ImageLimits())
        app.state.stage_checks = {c.stage: _stage_check(c, settings) for c in clients.all()}
        try:
            yield
        finally:
            for check in app.state.stage_checks.values():
                await check.aclose()
            await clients.aclose()

    async def readiness(app: FastAPI) -> dict[str, str]:
        serving: ServingGateway | None = getattr(app.state, "serving", None)
        if serving is None:
            return {"gateway": "starting"}
        stage_checks: dict[str, CachedCheck] = app.state.stage_checks
        # Together: a first /ready waits for at most one probe's `first_wait_s`, not one per stage.
        results = await asyncio.gather(*(check.result() for check in stage_checks.values()))
        checks = {}
        for stage, ok in zip(stage_checks, results, strict=True):
            hard = stage == "ner"  # without NER nothing can be answered; others degrade
            if ok:
                checks[stage] = "ok"
            else:
                checks[stage] = "not ready" if hard else "degraded: not ready"
        return checks

    auth = None
    if settings.api_keys_file is not None:
        auth = APIKeys(
            settings.api_keys_file,
            per_key_max_inflight=settings.api_key_max_inflight,
            protect_metrics=settings.api_keys_protect_metrics,
            protect_ready=settings.api_keys_protect_ready,
        )

    app = create_base_app(
        name=APP_NAME,
        settings=settings,
        lifespan=lifespan,
        readiness=readiness,
        auth=auth,
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


def _stage_check(client: StageClient, settings: GatewaySettings) -> CachedCheck:
    # Background and cached: the gateway's /ready answers at once, whatever a stage's /ready costs.
    return CachedCheck(
        lambda: client.get_ok("/ready", timeout_s=settings.ready_probe_timeout_s),
        interval_s=settings.ready_probe_interval_s,
        first_wait_s=min(1.0, settings.ready_probe_timeout_s),
        failures_to_fail=settings.ready_failures,
    )
