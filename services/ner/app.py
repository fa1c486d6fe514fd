"""The NER service app: `uvicorn services.ner.app:create_app --factory`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from engines.llm.client import LLMClient
from engines.llm.connection import build_llm_client, llm_checks
from engines.ner.knowledge.embedder import SentenceEmbedder
from engines.ner.knowledge.prompting import KnowledgePrompt, load_knowledge_prompt
from services.ner.backends import NERBackend, load_backend
from services.ner.router import router
from services.ner.serving import ServingNER
from services.ner.settings import NERSettings
from shared.lifecycle import timed_load
from shared.model_app import create_model_app

APP_NAME = "ner"


@dataclass
class NERModels:
    """What the NER stage loads: the tagger, and for the knowledge step its prompt form and the LLM client."""

    tagger: NERBackend
    prompt: KnowledgePrompt | None = None
    llm: LLMClient | None = None

    async def aclose(self) -> None:
        if self.llm is not None:
            await self.llm.aclose()


def load_models(settings: NERSettings) -> NERModels:
    # Each model timed under its own label: the tagger and the embedder load at very different costs.
    tagger = timed_load(APP_NAME, settings.backend, lambda: load_backend(settings))
    if not settings.knowledge_enabled:
        return NERModels(tagger)
    prompt = load_knowledge_prompt(
        settings, lambda: timed_load(APP_NAME, "embedder", lambda: SentenceEmbedder(settings.embedder_path))
    )
    return NERModels(tagger, prompt, build_llm_client(APP_NAME))


async def readiness(models: NERModels) -> dict[str, str]:
    checks = {"model": "ok"}
    # The LLM is a soft dependency here: without it the tagger still answers, without knowledge (degraded).
    if models.llm is not None:
        checks |= await llm_checks(models.llm)
    return checks


def create_app(settings: NERSettings | None = None) -> FastAPI:
    settings = settings or NERSettings()
    return create_model_app(
        name=APP_NAME,
        settings=settings,
        router=router,
        description="Named entities of a post (PER, LOC, ORG, MISC), with LLM auxiliary knowledge.",
        load=lambda: load_models(settings),
        make_serving=lambda models: ServingNER(settings, models.tagger, models.prompt, models.llm),
        readiness=readiness,
    )
