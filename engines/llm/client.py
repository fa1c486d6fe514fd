"""Client for an OpenAI-compatible server (vLLM in production, llama-cpp-python's server embedded)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from engines.llm.cache import LLMCache, cache_key
from engines.llm.openai_api import OpenAIAPIError, OpenAICompatibleAPI
from shared.metrics import LLM_CANCELLED, LLM_COALESCED
from shared.settings import LLMSettings

logger = logging.getLogger(__name__)


class LLMError(OpenAIAPIError):
    """The LLM server could not give an answer (down, timed out, or a malformed reply)."""


@dataclass
class _Flight:
    """One shared LLM call and how many callers wait for it: when the last one leaves, it is cancelled after
    `cancel_grace_s` unless a caller joins it meanwhile (`cancel_at`, the timer)."""

    task: asyncio.Task[str]
    waiters: int = 0
    cancel_at: asyncio.TimerHandle | None = None


class LLMClient:
    """Deterministic (temperature 0) completions, cached in Redis under a hash of model+prompt+params.

    Single-flight: concurrent cache misses for one key make one LLM call. Within the process the callers await
    one shared task; across processes the first to take a short Redis lock on the key calls, the others poll
    Redis for its answer. Whenever that cannot work (Redis down, the holder failed or died, the wait outlived
    the lock) a caller calls the LLM itself: coalescing saves work, it never withholds an answer.

    Cancellation: a caller that is cancelled (its client left) stops waiting; the shared call goes on while
    another caller waits for it, and `cancel_grace_s` after the last one left it is cancelled, which closes its
    connection to the LLM server (llama-server and vLLM then stop generating; see `shared.cancellation`). The
    grace is for the usual retry: a client that timed out sends the same post again, and its call joins this
    one instead of starting over (deploy/load/run_impatient.py, 8 impatient users on 2 cores: without it,
    retries of posts slower than the clients' patience started over each time and 4 posts were answered in a
    minute; with it, 19).
    """

    def __init__(self, settings: LLMSettings, cache: LLMCache, *, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.cache = cache
        self._api = OpenAICompatibleAPI(settings, app=cache.app, name="LLM", error=LLMError, client=client)
        self._inflight: dict[str, _Flight] = {}
        self.coalesced = {"process": 0, "redis": 0}

    async def aclose(self) -> None:
        for key, flight in list(self._inflight.items()):
            if flight.cancel_at is not None:  # in its grace: nobody will come back for it now
                flight.cancel_at.cancel()
                self._cancel(key, flight)
        await self._api.aclose()
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
                return await self._wait(key, running)
            except LLMError:
                return await self._call_and_store(key, payload_prompt, params)
        flight = _Flight(asyncio.create_task(self._single_flight(key, payload_prompt, params)))
        self._inflight[key] = flight
        flight.task.add_done_callback(lambda done: self._forget(key, flight))
        return await self._wait(key, flight)

    async def _wait(self, key: str, flight: _Flight) -> str:
        """The shared call's answer. shield: a waiter that is cancelled must not cancel the call the others
        wait for; when it was the last waiter, nobody wants the answer, and the call is cancelled (after the
        grace, unless a caller joins it meanwhile)."""
        flight.waiters += 1
        if flight.cancel_at is not None:  # a retry came back in time: the call goes on for it
            flight.cancel_at.cancel()
            flight.cancel_at = None
        try:
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                grace = self.settings.cancel_grace_s
                if grace > 0:
                    flight.cancel_at = asyncio.get_running_loop().call_later(grace, self._cancel, key, flight)
                else:
                    self._cancel(key, flight)

    def _cancel(self, key: str, flight: _Flight) -> None:
        flight.cancel_at = None
        if flight.waiters or flight.task.done():
            return
        # Forgotten now, not when the task ends: a caller arriving meanwhile starts a call of its own instead of
        # joining one that is going away.
        if self._inflight.get(key) is flight:
            del self._inflight[key]
        flight.task.cancel()
        LLM_CANCELLED.labels(self.cache.app).inc()

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

    def _forget(self, key: str, flight: _Flight) -> None:
        if self._inflight.get(key) is flight:
            del self._inflight[key]
        if not flight.task.cancelled():
            flight.task.exception()  # retrieved here so a failure nobody awaited any more is not logged as lost

    def _count_coalesced(self, scope: str) -> None:
        self.coalesced[scope] += 1
        LLM_COALESCED.labels(self.cache.app, scope).inc()

    async def ready(self, timeout_s: float = 2.0) -> bool:
        return await self._api.ready(timeout_s)

    async def _call(self, prompt: Any, params: dict[str, Any]) -> str:
        body: dict[str, Any] = {"model": self.settings.model, **params}
        if not body["stop"]:
            del body["stop"]
        chat = self.settings.api == "chat"
        if chat:
            path, body["messages"] = "chat/completions", prompt
        else:
            path, body["prompt"] = "completions", prompt
        return await self._api.post_streamed_text(path, body, chat=chat)
