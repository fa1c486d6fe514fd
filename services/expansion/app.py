"""The expansion service app: `uvicorn services.expansion.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from engines.llm.client import LLMClient
from engines.llm.connection import build_llm_client, llm_checks
from services.expansion.router import router
from services.expansion.serving import ServingExpansion
from services.expansion.settings import ExpansionSettings
from shared.model_app import create_model_app

APP_NAME = "expansion"


async def readiness(llm: LLMClient) -> dict[str, str]:
    checks = await llm_checks(llm)
    # Without its LLM this stage can say nothing: that is not ready, unlike a cache outage.
    if checks["llm"] != "ok":
        checks["llm"] = checks["llm"].removeprefix("degraded: ")
    return checks


def create_app(settings: ExpansionSettings | None = None) -> FastAPI:
    settings = settings or ExpansionSettings()
    return create_model_app(
        name=APP_NAME,
        settings=settings,
        router=router,
        description="Referring expressions `Name (TYPE) – description` for the entities of a post.",
        # The stage's only "model" is the LLM server behind this client.
        load=lambda: build_llm_client(APP_NAME),
        make_serving=lambda llm: ServingExpansion(settings, llm),
        readiness=readiness,
        loading_checks={"llm": "starting"},
    )
