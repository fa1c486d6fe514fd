"""Client for an OpenAI-compatible server (vLLM in production, llama-cpp-python's server embedded)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import httpx

from shared.llm.cache import LLMCache, cache_key
from shared.metrics import LLM_COALESCED, LLM_LATENCY
from shared.retry import RetryPolicy, send_with_retries
from shared.settings import LLMSettings

logger = logging.getLogger(__name__)


class LLMError(Exception):
    """The LLM server could not give an answer (down, timed out, or a malformed reply)."""


class LLMClient:
    """Deterministic (temperature 0) completions, cached in Redis under a hash of model+prompt+params.

    Single-flight: concurrent cache misses for one key make one LLM call. Within the process the callers await
    one shared task; across processes the first to take a short Redis lock on the key calls, the others poll
    Redis for its answer. Whenever that cannot work (Redis down, the holder failed or died, the wait outlived
    the lock) a caller calls the LLM itself: coalescing saves work, it never withholds an answer.
    """

    def __init__(self, settings: LLMSettings, cache: LLMCache, *, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.cache = cache
        self._client = client or httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/") + "/",
            timeout=httpx.Timeout(settings.timeout_s),
            headers={"Authorization": f"Bearer {settings.api_key}"},
        )
        # OpenAI-compatible servers send no Retry-After worth waiting for: a short backoff, then the next try.
        self._retry = RetryPolicy(retries=settings.retries, backoff_s=0.2, honour_retry_after=False)
        self._inflight: dict[str, asyncio.Task[str]] = {}
        self.coalesced = {"process": 0, "redis": 0}

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
        if not self.settings.single_flight:
            return await self._call_and_store(key, payload_prompt, params)
        running = self._inflight.get(key)
        if running is not None:
            self._count_coalesced("process")
            try:
                # shield: a waiter whose request is cancelled must not cancel the call the others wait for.
                return await asyncio.shield(running)
            except LLMError:
                return await self._call_and_store(key, payload_prompt, params)
        task = asyncio.create_task(self._single_flight(key, payload_prompt, params))
        self._inflight[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task)

    async def _single_flight(self, key: str, prompt: Any, params: dict[str, Any]) -> str:
        token = uuid.uuid4().hex
        lock_s = self.settings.single_flight_lock_s
        taken = await self.cache.acquire_lock(key, token, lock_s)
        if taken is None:  # Redis down or the cache off: nobody to coordinate with
            return await self._call_and_store(key, prompt, params)
        if taken:
            try:
                # The previous holder may have stored the answer between our miss and our lock.
                cached = await self.cache.peek(key)
                if cached is not None:
                    return cached
                return await self._call_and_store(key, prompt, params)
            finally:
                await self.cache.release_lock(key, token)
        answer = await self._wait_for_holder(key, time.monotonic() + lock_s)
        if answer is not None:
            self._count_coalesced("redis")
            return answer
        return await self._call_and_store(key, prompt, params)

    async def _wait_for_holder(self, key: str, deadline: float) -> str | None:
        """The holder's answer, or None when the lock went away without one (it failed or died) or timed out."""
        while time.monotonic() < deadline:
            await asyncio.sleep(self.settings.single_flight_poll_s)
            answer = await self.cache.peek(key)
            if answer is not None:
                return answer
            if not await self.cache.lock_held(key):
                # The holder stores the answer before it unlocks: look once more after seeing the lock gone.
                return await self.cache.peek(key)
        return None

    async def _call_and_store(self, key: str, prompt: Any, params: dict[str, Any]) -> str:
        text = await self._call(prompt, params)
        await self.cache.set(key, text)
        return text

    def _forget(self, key: str, task: asyncio.Task[str]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here so a failure nobody awaited any more is not logged as lost

    def _count_coalesced(self, scope: str) -> None:
        self.coalesced[scope] += 1
        LLM_COALESCED.labels(self.cache.app, scope).inc()

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
        try:
            response = await send_with_retries(lambda _: self._client.post(path, json=body), self._retry)
        except httpx.TimeoutException as exc:
            raise LLMError(f"LLM timed out after {self.settings.timeout_s}s") from exc
        except httpx.TransportError as exc:
            raise LLMError(f"LLM unreachable: {exc}") from exc
        if response.status_code in self._retry.statuses:
            raise LLMError(f"LLM unreachable: LLM answered {response.status_code}")
        if response.status_code >= 400:
            raise LLMError(f"LLM answered {response.status_code}: {response.text[:200]}")
        try:
            payload = response.json()
        except ValueError as exc:
            raise LLMError(f"malformed LLM answer (not JSON): {response.text[:200]}") from exc
        LLM_LATENCY.labels(self.cache.app).observe(time.perf_counter() - started)
        return _extract_text(payload, self.settings.api)


def _extract_text(body: dict[str, Any], api: str) -> str:
    try:
        choice = body["choices"][0]
        text = choice["message"]["content"] if api == "chat" else choice["text"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMError(f"malformed LLM answer: {str(body)[:200]}") from exc
    return (text or "").strip()
