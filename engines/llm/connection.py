"""An app's LLM client built from its settings, and the readiness checks of the LLM and its cache."""

from __future__ import annotations

import weakref

from engines.llm.cache import LLMCache
from engines.llm.client import LLMClient
from shared.probes import CachedCheck
from shared.settings import LLMSettings


def build_llm_client(app: str, settings: LLMSettings | None = None) -> LLMClient:
    settings = settings or LLMSettings()
    cache = LLMCache(settings.redis_url, settings.cache_ttl_s, app=app, enabled=settings.cache_enabled)
    return LLMClient(settings, cache)


# One pair of background checks per LLM client (per app), answered from cache: see shared/probes.py.
_LLM_CHECKS: weakref.WeakKeyDictionary[LLMClient, tuple[CachedCheck, CachedCheck]] = weakref.WeakKeyDictionary()


async def llm_checks(llm: LLMClient) -> dict[str, str]:
    """Readiness of the LLM and its cache: both soft, the app still answers without them (degraded).

    Answered at once from the last background probe, so a busy LLM (slow `/v1/models` while it generates)
    never makes this app's `/ready` slow, and a slow `/ready` never makes the gateway's probe of it fail.
    """
    checks = _LLM_CHECKS.get(llm)
    if checks is None:
        checks = (
            CachedCheck(lambda: llm.ready(timeout_s=10.0), interval_s=5.0, first_wait_s=0.5),
            CachedCheck(llm.cache.ping, interval_s=5.0, first_wait_s=0.5),
        )
        _LLM_CHECKS[llm] = checks
    llm_ok, cache_ok = (await checks[0].result(), await checks[1].result())
    return {
        "llm": "ok" if llm_ok else f"degraded: {llm.settings.base_url} not answering",
        "llm_cache": "ok" if cache_ok else "degraded: redis unreachable, answering uncached",
    }
