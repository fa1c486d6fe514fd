"""The NER service app: `uvicorn services.ner.app:create_app --factory`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.ner.backends import load_backend
from services.ner.knowledge.bank import load_examples
from services.ner.knowledge.embedder import SentenceEmbedder
from services.ner.knowledge.selector import ExampleSelector
from services.ner.router import router
from services.ner.serving import ServingNER
from services.ner.settings import NERSettings
from shared.app import create_app as create_base_app
from shared.lifecycle import build_llm_client, llm_checks, timed_load

APP_NAME = "ner"


def create_app(settings: NERSettings | None = None) -> FastAPI:
    settings = settings or NERSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backend = timed_load(APP_NAME, settings.backend, lambda: load_backend(settings))
        selector = llm = None
        if settings.knowledge_enabled:
            examples = load_examples(settings.examples_path)
            embedder = timed_load(APP_NAME, "embedder", lambda: SentenceEmbedder(settings.embedder_path))
            selector = ExampleSelector(examples, embedder)
            llm = build_llm_client(APP_NAME)
        app.state.serving = ServingNER(settings, backend, selector, llm)
        try:
            yield
        finally:
            if llm is not None:
                await llm.aclose()

    async def readiness(app: FastAPI) -> dict[str, str]:
        serving: ServingNER | None = getattr(app.state, "serving", None)
        if serving is None:
            return {"model": "loading"}
        checks = {"model": "ok"}
        if serving.llm is not None:
            checks |= await llm_checks(serving.llm)
        return checks

    app = create_base_app(
        name=APP_NAME,
        settings=settings,
        lifespan=lifespan,
        readiness=readiness,
        description="Named entities of a post (PER, LOC, ORG, MISC), with LLM auxiliary knowledge.",
    )
    app.include_router(router)
    return app
