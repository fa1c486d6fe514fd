"""Single-flight LLM calls: concurrent identical cache misses make one upstream call (real Redis, fake LLM)."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import redis.asyncio as redis

from engines.llm.cache import LLMCache, cache_key
from engines.llm.client import LLMClient, LLMError
from shared.settings import LLMSettings
from tests.conftest import REDIS_URL, closed_port_url

# Bounds a whole test so a coalescing bug shows up as a failure, not a hung suite; not a timing assertion.
NO_HANG_S = 10.0


class CountingOpenAI:
    """An OpenAI-compatible /completions endpoint that counts calls and answers only when released.

    Holding every answer until `release` is set makes the callers overlap for sure, without sleeps.
    """

    def __init__(self, fail_first: int = 0) -> None:
        self.calls = 0
        self.fail_first = fail_first
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        number = self.calls
        self.started.set()
        await self.release.wait()
        if number <= self.fail_first:
            return httpx.Response(400, json={"error": "bad request"})  # not retried: the call fails
        prompt = json.loads(request.content)["prompt"]
        return httpx.Response(200, json={"choices": [{"text": f" {prompt} #{number} "}]})


def make_client(
    fake: CountingOpenAI,
    *,
    prefix: str,
    redis_url: str = REDIS_URL,
    single_flight: bool = True,
    lock_s: float = 5.0,
    cancel_grace_s: float = 0.0,
) -> LLMClient:
    settings = LLMSettings(
        base_url="http://llm.test/v1",
        cache_prefix=prefix,
        retries=0,
        single_flight=single_flight,
        single_flight_lock_s=lock_s,
        single_flight_poll_s=0.01,
        cancel_grace_s=cancel_grace_s,
    )
    cache = LLMCache(redis_url, settings.cache_ttl_s, app="test", socket_timeout_s=0.2)
    http = httpx.AsyncClient(base_url="http://llm.test/v1/", transport=httpx.MockTransport(fake.handler))
    return LLMClient(settings, cache, client=http)


def fresh_prefix() -> str:
    return f"gmner:test:sf:{uuid.uuid4().hex}:"


async def gather_then_release(fake: CountingOpenAI, calls: list) -> list:
    """Start every call, let the first reach the LLM and the rest pile up behind it, then answer."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    await asyncio.wait_for(fake.started.wait(), NO_HANG_S)
    for _ in range(20):  # let the other callers reach their wait (each needs a few Redis round trips)
        await asyncio.sleep(0.01)
    fake.release.set()
    return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), NO_HANG_S)


async def test_concurrent_identical_calls_make_one_upstream_call() -> None:
    fake = CountingOpenAI()
    client = make_client(fake, prefix=fresh_prefix())
    try:
        answers = await gather_then_release(fake, [client.complete("Text: same", max_tokens=8) for _ in range(5)])
    finally:
        await client.aclose()
    assert fake.calls == 1
    assert answers == ["Text: same #1"] * 5
    assert client.coalesced == {"process": 4, "redis": 0}


async def test_different_prompts_are_not_coalesced() -> None:
    fake = CountingOpenAI()
    client = make_client(fake, prefix=fresh_prefix())
    try:
        answers = await gather_then_release(fake, [client.complete(f"Text: {i}") for i in range(3)])
    finally:
        await client.aclose()
    assert fake.calls == 3
    assert sorted(a.split(" #")[0] for a in answers) == ["Text: 0", "Text: 1", "Text: 2"]


async def test_single_flight_off_calls_for_every_miss() -> None:
    fake = CountingOpenAI()
    client = make_client(fake, prefix=fresh_prefix(), single_flight=False)
    try:
        answers = await gather_then_release(fake, [client.complete("Text: same") for _ in range(3)])
    finally:
        await client.aclose()
    assert fake.calls == 3
    assert len(answers) == 3 and all(a.startswith("Text: same #") for a in answers)


async def test_clients_in_different_processes_coalesce_through_redis() -> None:
    # Two clients with the same prefix and no shared memory stand for two replicas of a stage.
    fake = CountingOpenAI()
    prefix = fresh_prefix()
    first, second = make_client(fake, prefix=prefix), make_client(fake, prefix=prefix)
    try:
        answers = await gather_then_release(
            fake, [first.complete("Text: shared"), second.complete("Text: shared"), second.complete("Text: shared")]
        )
    finally:
        await first.aclose()
        await second.aclose()
    assert fake.calls == 1
    assert answers == ["Text: shared #1"] * 3
    assert first.coalesced["redis"] + second.coalesced["redis"] == 1  # the other replica's leader
    assert second.coalesced["process"] == 1  # its second caller joined its own leader


async def test_waiters_call_themselves_when_the_holder_fails() -> None:
    fake = CountingOpenAI(fail_first=1)
    client = make_client(fake, prefix=fresh_prefix())
    try:
        results = await gather_then_release(fake, [client.complete("Text: flaky") for _ in range(3)])
    finally:
        await client.aclose()
    # Which caller holds the flight is up to the event loop: exactly one gets the failure of its own call, the
    # two waiters then call themselves and get answers.
    failures = [r for r in results if isinstance(r, LLMError)]
    assert len(failures) == 1
    assert sorted(r for r in results if not isinstance(r, LLMError)) == ["Text: flaky #2", "Text: flaky #3"]
    assert fake.calls == 3


async def test_waiter_calls_itself_when_the_lock_holder_died() -> None:
    # A lock taken by a process that died before answering: it expires after its TTL, then the waiter calls.
    fake = CountingOpenAI()
    fake.release.set()
    prefix = fresh_prefix()
    client = make_client(fake, prefix=prefix, lock_s=0.3)
    probe = make_client(fake, prefix=prefix)
    try:
        key = _key_of(probe, "Text: orphan")
        direct = redis.Redis.from_url(REDIS_URL)
        await direct.set(key + ":lock", "dead-holder", px=300)
        await direct.aclose()
        answer = await asyncio.wait_for(client.complete("Text: orphan"), NO_HANG_S)
    finally:
        await client.aclose()
        await probe.aclose()
    assert answer == "Text: orphan #1"
    assert fake.calls == 1
    assert client.coalesced == {"process": 0, "redis": 0}


async def test_waiter_takes_the_answer_a_live_holder_stores() -> None:
    fake = CountingOpenAI()
    fake.release.set()
    prefix = fresh_prefix()
    client = make_client(fake, prefix=prefix)
    probe = make_client(fake, prefix=prefix)
    direct = redis.Redis.from_url(REDIS_URL)
    try:
        key = _key_of(probe, "Text: elsewhere")
        await direct.set(key + ":lock", "other-replica", px=5000)
        waiting = asyncio.ensure_future(client.complete("Text: elsewhere"))
        await asyncio.sleep(0.05)
        await direct.set(key, "answer from the other replica", ex=60)
        await direct.delete(key + ":lock")
        answer = await asyncio.wait_for(waiting, NO_HANG_S)
    finally:
        await direct.aclose()
        await client.aclose()
        await probe.aclose()
    assert answer == "answer from the other replica"
    assert fake.calls == 0
    assert client.coalesced["redis"] == 1


async def test_redis_down_still_answers_and_coalesces_in_process() -> None:
    fake = CountingOpenAI()
    client = make_client(fake, prefix=fresh_prefix(), redis_url=closed_port_url("redis") + "/0")
    try:
        answers = await gather_then_release(fake, [client.complete("Text: no redis") for _ in range(3)])
    finally:
        await client.aclose()
    assert answers == ["Text: no redis #1"] * 3
    assert fake.calls == 1
    assert client.cache.errors > 0


async def test_a_cancelled_caller_does_not_cancel_the_shared_call() -> None:
    fake = CountingOpenAI()
    client = make_client(fake, prefix=fresh_prefix())
    try:
        leader = asyncio.ensure_future(client.complete("Text: keep going"))
        await asyncio.wait_for(fake.started.wait(), NO_HANG_S)
        follower = asyncio.ensure_future(client.complete("Text: keep going"))
        await asyncio.sleep(0.05)
        leader.cancel()
        fake.release.set()
        answer = await asyncio.wait_for(follower, NO_HANG_S)
        with pytest.raises(asyncio.CancelledError):
            await leader
    finally:
        await client.aclose()
    assert answer == "Text: keep going #1"
    assert fake.calls == 1


def _key_of(client: LLMClient, prompt: str) -> str:
    params = {"temperature": 0.0, "max_tokens": client.settings.max_tokens, "stop": []}
    return cache_key(client.settings.cache_prefix, client.settings.model, client.settings.api, prompt, params)


# --- cancellation: a shared call lives while one caller waits for it -----------------------------------------


class CancellableOpenAI(CountingOpenAI):
    """Counts the upstream calls that were cancelled (their HTTP request given up) while held."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = 0

    async def handler(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handler(request)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


async def callers_waiting(fake: CountingOpenAI, client: LLMClient, prompt: str, count: int) -> list[asyncio.Task]:
    tasks = [asyncio.create_task(client.complete(prompt)) for _ in range(count)]
    await asyncio.wait_for(fake.started.wait(), NO_HANG_S)
    for _ in range(20):  # let the other callers reach their wait (each needs a few Redis round trips)
        await asyncio.sleep(0.01)
    return tasks


async def test_a_shared_call_survives_one_of_two_callers_leaving() -> None:
    fake = CancellableOpenAI()
    client = make_client(fake, prefix=fresh_prefix())
    try:
        leaving, staying = await callers_waiting(fake, client, "Text: shared", 2)
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        for _ in range(10):
            await asyncio.sleep(0.01)
        assert fake.cancelled == 0
        fake.release.set()
        assert await asyncio.wait_for(staying, NO_HANG_S) == "Text: shared #1"
    finally:
        await client.aclose()
    assert fake.calls == 1


async def test_a_shared_call_is_cancelled_when_every_caller_left() -> None:
    fake = CancellableOpenAI()
    client = make_client(fake, prefix=fresh_prefix())
    try:
        callers = await callers_waiting(fake, client, "Text: nobody", 2)
        for caller in callers:
            caller.cancel()
        await asyncio.gather(*callers, return_exceptions=True)
        for _ in range(100):
            if fake.cancelled:
                break
            await asyncio.sleep(0.01)
        assert fake.cancelled == 1 and fake.calls == 1
        # A caller after that is not handed the cancelled call: it makes its own and gets its answer.
        fake.release.set()
        assert await asyncio.wait_for(client.complete("Text: nobody"), NO_HANG_S) == "Text: nobody #2"
    finally:
        await client.aclose()


async def test_a_caller_back_within_the_grace_joins_the_call_still_running() -> None:
    # The impatient client's retry: it left, and sends the same post again at once.
    fake = CancellableOpenAI()
    client = make_client(fake, prefix=fresh_prefix(), cancel_grace_s=5.0)
    try:
        [first] = await callers_waiting(fake, client, "Text: retried", 1)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        retry = asyncio.create_task(client.complete("Text: retried"))
        for _ in range(10):
            await asyncio.sleep(0.01)
        fake.release.set()
        assert await asyncio.wait_for(retry, NO_HANG_S) == "Text: retried #1"
    finally:
        await client.aclose()
    assert fake.calls == 1 and fake.cancelled == 0


async def test_a_call_nobody_came_back_for_is_cancelled_after_the_grace() -> None:
    fake = CancellableOpenAI()
    client = make_client(fake, prefix=fresh_prefix(), cancel_grace_s=0.1)
    try:
        [first] = await callers_waiting(fake, client, "Text: abandoned", 1)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        assert fake.cancelled == 0  # within the grace
        for _ in range(int(NO_HANG_S / 0.01)):
            if fake.cancelled:
                break
            await asyncio.sleep(0.01)
        assert fake.cancelled == 1
    finally:
        await client.aclose()
