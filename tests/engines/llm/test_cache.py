"""The LLM cache against the real Redis at 127.0.0.1:6379, and the LLM client on a fake OpenAI server."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import redis.asyncio as redis

from engines.llm.cache import LLMCache, cache_key
from engines.llm.client import LLMClient, LLMError
from shared.settings import LLMSettings
from tests.conftest import REDIS_URL, closed_port_url


def test_key_depends_on_model_prompt_and_params() -> None:
    base = cache_key("p:", "m", "completions", "hello", {"temperature": 0.0, "max_tokens": 8})
    assert base == cache_key("p:", "m", "completions", "hello", {"max_tokens": 8, "temperature": 0.0})
    assert base != cache_key("p:", "m2", "completions", "hello", {"temperature": 0.0, "max_tokens": 8})
    assert base != cache_key("p:", "m", "completions", "hello!", {"temperature": 0.0, "max_tokens": 8})
    assert base != cache_key("p:", "m", "completions", "hello", {"temperature": 0.0, "max_tokens": 9})
    assert base != cache_key("p:", "m", "chat", "hello", {"temperature": 0.0, "max_tokens": 8})
    assert base.startswith("p:") and len(base) == 2 + 64


async def test_miss_then_hit_with_ttl() -> None:
    cache = LLMCache(REDIS_URL, ttl_s=30, app="test")
    key = f"gmner:test:{uuid.uuid4().hex}"
    try:
        assert await cache.get(key) is None
        await cache.set(key, "answer")
        assert await cache.get(key) == "answer"
        assert cache.stats() == {"hits": 1, "misses": 1, "errors": 0}
        client = redis.Redis.from_url(REDIS_URL)
        ttl = await client.ttl(key)
        await client.aclose()
        assert 0 < ttl <= 30
    finally:
        await cache.aclose()


async def test_entry_expires() -> None:
    cache = LLMCache(REDIS_URL, ttl_s=1, app="test")
    key = f"gmner:test:{uuid.uuid4().hex}"
    try:
        await cache.set(key, "short-lived")
        client = redis.Redis.from_url(REDIS_URL)
        await client.pexpire(key, 50)  # shorten instead of sleeping a whole second
        await client.aclose()
        import asyncio

        await asyncio.sleep(0.15)
        assert await cache.get(key) is None
    finally:
        await cache.aclose()


async def test_unreachable_redis_is_counted_not_raised() -> None:
    cache = LLMCache(closed_port_url("redis") + "/0", ttl_s=30, app="test", socket_timeout_s=0.2)
    try:
        assert await cache.get("k") is None
        await cache.set("k", "v")
        assert cache.errors == 2
        assert not await cache.ping()
    finally:
        await cache.aclose()


class FakeOpenAI:
    """Records requests and answers like an OpenAI-compatible /completions endpoint."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[dict] = []
        self.status = status

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append({"path": request.url.path, **body})
        if self.status != 200:
            return httpx.Response(self.status, json={"error": "down"})
        if request.url.path.endswith("/chat/completions"):
            return httpx.Response(200, json={"choices": [{"message": {"content": " chat answer "}}]})
        return httpx.Response(200, json={"choices": [{"text": f" answer to {len(self.requests)} "}]})


def make_client(fake: FakeOpenAI, redis_url: str = REDIS_URL, api: str = "completions") -> LLMClient:
    settings = LLMSettings(
        base_url="http://llm.test/v1", api=api, cache_prefix=f"gmner:test:{uuid.uuid4().hex}:", retries=1
    )
    cache = LLMCache(redis_url, settings.cache_ttl_s, app="test", socket_timeout_s=0.2)
    transport = httpx.MockTransport(fake.handler)
    http = httpx.AsyncClient(base_url="http://llm.test/v1/", transport=transport)
    return LLMClient(settings, cache, client=http)


async def test_client_serves_repeats_from_cache() -> None:
    fake = FakeOpenAI()
    client = make_client(fake)
    try:
        first = await client.complete("Text: hi", max_tokens=5, stop=["\n"])
        second = await client.complete("Text: hi", max_tokens=5, stop=["\n"])
        third = await client.complete("Text: other", max_tokens=5)
    finally:
        await client.aclose()
    assert first == second == "answer to 1"
    assert third == "answer to 2"
    assert len(fake.requests) == 2
    sent = fake.requests[0]
    assert sent["path"] == "/v1/completions"
    assert sent["temperature"] == 0.0 and sent["max_tokens"] == 5 and sent["stop"] == ["\n"]
    assert client.cache.stats() == {"hits": 1, "misses": 2, "errors": 0}


async def test_client_chat_api() -> None:
    fake = FakeOpenAI()
    client = make_client(fake, api="chat")
    try:
        assert await client.complete("q", system="sys") == "chat answer"
    finally:
        await client.aclose()
    assert fake.requests[0]["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q"},
    ]


async def test_client_answers_uncached_when_redis_is_down() -> None:
    fake = FakeOpenAI()
    client = make_client(fake, redis_url=closed_port_url("redis") + "/0")
    try:
        assert await client.complete("x") == "answer to 1"
        assert await client.complete("x") == "answer to 2"  # no cache: asked again
    finally:
        await client.aclose()
    assert client.cache.errors == 6  # per call: the lookup, the single-flight lock and the store


async def test_client_raises_llm_error_when_server_fails() -> None:
    client = make_client(FakeOpenAI(status=503))
    try:
        with pytest.raises(LLMError):
            await client.complete("x")
    finally:
        await client.aclose()
