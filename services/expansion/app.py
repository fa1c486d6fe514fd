"""The expansion service app: `uvicorn services.expansion.app:create_app --factory`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.expansion.router import router
from services.expansion.serving import ServingExpansion
from services.expansion.settings import ExpansionSettings
from shared.app import create_app as create_base_app
from shared.lifecycle import build_llm_client, llm_checks

APP_NAME = "expansion"


def create_app(settings: ExpansionSettings | None = None) -> FastAPI:
    settings = settings or ExpansionSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        llm = build_llm_client(APP_NAME)
        app.state.serving = ServingExpansion(settings, llm)
        try:
            yield
        finally:
            await llm.aclose()

    async def readiness(app: FastAPI) -> dict[str, str]:
        serving: ServingExpansion | None = getattr(app.state, "serving", None)
        if serving is None:
            return {"llm": "starting"}
        checks = await llm_checks(serving.llm)
        # Without its LLM this stage can say nothing: that is not ready, unlike a cache outage.
        if checks["llm"] != "ok":
            checks["llm"] = checks["llm"].removeprefix("degraded: ")
        return checks

    app = create_base_app(
        name=APP_NAME,
        settings=settings,
        lifespan=lifespan,
        readiness=readiness,
        description="Referring expressions `Name (TYPE) – description` for the entities of a post.",
    )
    app.include_router(router)
    return app
