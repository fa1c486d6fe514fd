"""Client for an OpenAI-compatible server (vLLM in production, llama-cpp-python's server embedded)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource

from engines.llm.cache import LLMCache, cache_key
from shared.metrics import LLM_CANCELLED, LLM_COALESCED, LLM_LATENCY
from shared.retry import RetryPolicy, send_with_retries
from shared.settings import LLMSettings

logger = logging.getLogger(__name__)


class LLMError(Exception):
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
        self._client = client or httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/") + "/",
            timeout=httpx.Timeout(settings.timeout_s),
            headers={"Authorization": f"Bearer {settings.api_key}"},
        )
        # OpenAI-compatible servers send no Retry-After worth waiting for: a short backoff, then the next try.
        self._retry = RetryPolicy(retries=settings.retries, backoff_s=0.2, honour_retry_after=False)
        self._inflight: dict[str, _Flight] = {}
        self.coalesced = {"process": 0, "redis": 0}

    async def aclose(self) -> None:
        for key, flight in list(self._inflight.items()):
            if flight.cancel_at is not None:  # in its grace: nobody will come back for it now
                flight.cancel_at.cancel()
                self._cancel(key, flight)
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
        try:
            response = await self._client.get("models", timeout=timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def _call(self, prompt: Any, params: dict[str, Any]) -> str:
        # Streamed (`stream: true`), though only the whole text is used: a server learns that its client left
        # when it writes to a closed connection, which a streamed answer does at every token. Measured with
        # llama-server (deploy/load/abandoned_posts.py --direct): non-streamed completions whose clients closed
        # their connections after 0.5 s were all generated to their end; llama-cpp-python's server likewise
        # only looks between streamed chunks. A server that answers in one JSON body anyway is read as before.
        body: dict[str, Any] = {"model": self.settings.model, **params, "stream": True}
        if not body["stop"]:
            del body["stop"]
        if self.settings.api == "chat":
            path, body["messages"] = "chat/completions", prompt
        else:
            path, body["prompt"] = "completions", prompt
        started = time.perf_counter()

        async def send(_: float | None) -> httpx.Response:
            return await self._client.send(self._client.build_request("POST", path, json=body), stream=True)

        try:
            # httpx's timeout is per read, and a streamed answer reads often: the whole call is bounded here.
            async with asyncio.timeout(self.settings.timeout_s):
                response = await send_with_retries(send, self._retry)
                try:
                    text = await self._read_answer(response)
                finally:
                    await response.aclose()
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise LLMError(f"LLM timed out after {self.settings.timeout_s}s") from exc
        except httpx.TransportError as exc:
            raise LLMError(f"LLM unreachable: {exc}") from exc
        LLM_LATENCY.labels(self.cache.app).observe(time.perf_counter() - started)
        return text

    async def _read_answer(self, response: httpx.Response) -> str:
        if response.status_code >= 400:
            await response.aread()
            if response.status_code in self._retry.statuses:
                raise LLMError(f"LLM unreachable: LLM answered {response.status_code}")
            raise LLMError(f"LLM answered {response.status_code}: {response.text[:200]}")
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            await response.aread()
            try:
                payload = response.json()
            except ValueError as exc:
                raise LLMError(f"malformed LLM answer (not JSON): {response.text[:200]}") from exc
            return _extract_text(payload, self.settings.api)
        parts: list[str] = []
        async for event in EventSource(response).aiter_sse():
            if event.data.strip() == "[DONE]":
                break
            try:
                chunk = json.loads(event.data)
            except ValueError as exc:
                raise LLMError(f"malformed LLM stream event: {event.data[:200]}") from exc
            parts.append(_chunk_text(chunk, self.settings.api))
        return "".join(parts).strip()


def _chunk_text(chunk: Any, api: str) -> str:
    """The text of one streamed chunk: `choices[0].text` (completions) or `choices[0].delta.content` (chat)."""
    if isinstance(chunk, dict) and "error" in chunk:
        raise LLMError(f"LLM failed while answering: {str(chunk['error'])[:200]}")
    try:
        choice = chunk["choices"][0] if chunk["choices"] else {}
        text = choice.get("delta", {}).get("content") if api == "chat" else choice.get("text")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise LLMError(f"malformed LLM stream event: {str(chunk)[:200]}") from exc
    return text or ""


def _extract_text(body: dict[str, Any], api: str) -> str:
    try:
        choice = body["choices"][0]
        text = choice["message"]["content"] if api == "chat" else choice["text"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMError(f"malformed LLM answer: {str(body)[:200]}") from exc
    return (text or "").strip()
