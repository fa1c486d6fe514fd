"""Client for an OpenAI-compatible server (vLLM in production, llama-cpp-python's server embedded)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from shared.llm.cache import LLMCache, cache_key
from shared.metrics import LLM_LATENCY
from shared.settings import LLMSettings

logger = logging.getLogger(__name__)


class LLMError(Exception):
    """The LLM server could not give an answer (down, timed out, or a malformed reply)."""


class LLMClient:
    """Deterministic (temperature 0) completions, cached in Redis under a hash of model+prompt+params."""

    def __init__(self, settings: LLMSettings, cache: LLMCache, *, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.cache = cache
        self._client = client or httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/") + "/",
            timeout=httpx.Timeout(settings.timeout_s),
            headers={"Authorization": f"Bearer {settings.api_key}"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()
        await self.cache.aclose()

    async def complete(
        self,
        prompt: str,
        *,
        system: str | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
    ) -> str:
        """Return the model's text for `prompt`, from the cache when this exact call was made before."""
        params: dict[str, Any] = {
            "temperature": 0.0,
            "max_tokens": max_tokens or self.settings.max_tokens,
            "stop": stop or [],
        }
        if self.settings.api == "chat":
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": prompt}
            ]
            payload_prompt: Any = messages
        else:
            payload_prompt = f"{system}\n\n{prompt}" if system else prompt
        key = cache_key(self.settings.cache_prefix, self.settings.model, self.settings.api, payload_prompt, params)
        cached = await self.cache.get(key)
        if cached is not None:
            return cached
        text = await self._call(payload_prompt, params)
        await self.cache.set(key, text)
        return text

    async def ready(self, timeout_s: float = 2.0) -> bool:
        try:
            response = await self._client.get("models", timeout=timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def _call(self, prompt: Any, params: dict[str, Any]) -> str:
        body: dict[str, Any] = {"model": self.settings.model, **params}
        if not body["stop"]:
            del body["stop"]
        if self.settings.api == "chat":
            path, body["messages"] = "chat/completions", prompt
        else:
            path, body["prompt"] = "completions", prompt
        started = time.perf_counter()
        last_exc: Exception | None = None
        for attempt in range(self.settings.retries + 1):
            if attempt:
                await asyncio.sleep(0.2 * attempt)
            try:
                response = await self._client.post(path, json=body)
            except httpx.TimeoutException as exc:
                raise LLMError(f"LLM timed out after {self.settings.timeout_s}s") from exc
            except httpx.TransportError as exc:
                last_exc = exc
                continue
            if response.status_code in (429, 502, 503, 504):
                last_exc = LLMError(f"LLM answered {response.status_code}")
                continue
            if response.status_code >= 400:
                raise LLMError(f"LLM answered {response.status_code}: {response.text[:200]}")
            LLM_LATENCY.labels(self.cache.app).observe(time.perf_counter() - started)
            return _extract_text(response.json(), self.settings.api)
        raise LLMError(f"LLM unreachable: {last_exc}")


def _extract_text(body: dict[str, Any], api: str) -> str:
    try:
        choice = body["choices"][0]
        text = choice["message"]["content"] if api == "chat" else choice["text"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMError(f"malformed LLM answer: {str(body)[:200]}") from exc
    return (text or "").strip()
