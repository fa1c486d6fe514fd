"""Start-up helpers shared by the apps' lifespans."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from shared.llm.cache import LLMCache
from shared.llm.client import LLMClient
from shared.metrics import MODEL_LOAD_SECONDS
from shared.settings import LLMSettings

logger = logging.getLogger(__name__)
T = TypeVar("T")


def timed_load(app: str, backend: str, load: Callable[[], T]) -> T:
    """Run `load`, record its duration as the model-load metric, and log it."""
    started = time.perf_counter()
    loaded = load()
    elapsed = time.perf_counter() - started
    MODEL_LOAD_SECONDS.labels(app, backend).set(elapsed)
    logger.info("model loaded", extra={"backend": backend, "load_s": round(elapsed, 2)})
    return loaded


def build_llm_client(app: str, settings: LLMSettings | None = None) -> LLMClient:
    settings = settings or LLMSettings()
    cache = LLMCache(settings.redis_url, settings.cache_ttl_s, app=app, enabled=settings.cache_enabled)
    return LLMClient(settings, cache)


async def llm_checks(llm: LLMClient) -> dict[str, str]:
    """Readiness of the LLM and its cache: both soft, the app still answers without them."""
    return {
        "llm": "ok" if await llm.ready() else f"degraded: {llm.settings.base_url} unreachable",
        "llm_cache": "ok" if await llm.cache.ping() else "degraded: redis unreachable, answering uncached",
    }
