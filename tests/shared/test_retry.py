"""`shared.retry`: which failures are sent again, how long it waits (the waits are recorded, not timed), budgets."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator

import httpx
import pytest

import shared.retry as retry
from shared.retry import RetryPolicy, RetrySchedule, parse_retry_after, send_with_retries, send_with_retries_sync


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Every wait the helper asks for, instead of sleeping it."""
    recorded: list[float] = []

    async def fake_async_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(retry.asyncio, "sleep", fake_async_sleep)
    monkeypatch.setattr(retry.time, "sleep", recorded.append)
    yield recorded


class Scripted:
    """A `send` that answers the script in order and records each attempt's timeout."""

    def __init__(self, *script: httpx.Response | Exception) -> None:
        self.script = list(script)
        self.timeouts: list[float | None] = []

    def __call__(self, timeout: float | None) -> httpx.Response:
        self.timeouts.append(timeout)
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def send(self, timeout: float | None) -> httpx.Response:
        return self(timeout)

    @property
    def attempts(self) -> int:
        return len(self.timeouts)


def status(code: int, retry_after: str | None = None) -> httpx.Response:
    return httpx.Response(code, headers={"Retry-After": retry_after} if retry_after is not None else None)


def refused() -> httpx.ConnectError:
    return httpx.ConnectError("connection refused")


async def test_a_retryable_status_is_sent_again_until_it_answers(waits: list[float]) -> None:
    send = Scripted(status(503), status(502), status(200))
    response = await send_with_retries(send.send, RetryPolicy(retries=2, backoff_s=0.5))
    assert response.status_code == 200 and send.attempts == 3
    assert waits == [0.5, 1.0]  # exponential


async def test_the_last_retryable_status_is_returned_not_raised(waits: list[float]) -> None:
    send = Scripted(status(503), status(429))
    response = await send_with_retries(send.send, RetryPolicy(retries=1))
    assert response.status_code == 429 and send.attempts == 2


@pytest.mark.parametrize("code", [200, 400, 404, 500])
async def test_other_statuses_are_returned_at_once(code: int, waits: list[float]) -> None:
    send = Scripted(status(code), status(200))
    assert (await send_with_retries(send.send, RetryPolicy(retries=3))).status_code == code
    assert send.attempts == 1 and waits == []


async def test_connection_errors_are_retried_then_reraised(waits: list[float]) -> None:
    send = Scripted(refused(), refused(), refused())
    with pytest.raises(httpx.ConnectError):
        await send_with_retries(send.send, RetryPolicy(retries=2, backoff_s=0.1))
    assert send.attempts == 3 and waits == [0.1, 0.2]


async def test_a_timeout_is_never_retried_by_default(waits: list[float]) -> None:
    send = Scripted(httpx.ReadTimeout("slow"), status(200))
    with pytest.raises(httpx.ReadTimeout):
        await send_with_retries(send.send, RetryPolicy(retries=3))
    assert send.attempts == 1 and waits == []


async def test_an_exception_outside_the_policy_is_raised_at_once(waits: list[float]) -> None:
    send = Scripted(httpx.RemoteProtocolError("server hung up"), status(200))
    policy = RetryPolicy(retries=3, retry_exceptions=(httpx.ConnectError,), never_retry=())
    with pytest.raises(httpx.RemoteProtocolError):
        await send_with_retries(send.send, policy)
    assert send.attempts == 1
    with pytest.raises(ValueError):  # not an HTTP failure at all: a bug, never retried
        await send_with_retries(Scripted(ValueError("bug")).send, policy)


async def test_retry_after_replaces_the_backoff_and_is_capped(waits: list[float]) -> None:
    send = Scripted(status(429, "3"), status(503, "3600"), status(503, "soon"), status(200))
    policy = RetryPolicy(retries=3, backoff_s=0.25, max_wait_s=60.0)
    assert (await send_with_retries(send.send, policy)).status_code == 200
    # The server's 3 s; its 3600 s capped at max_wait_s; an unreadable header falls back to the backoff.
    assert waits == [3.0, 60.0, 1.0]


async def test_retry_after_can_be_ignored(waits: list[float]) -> None:
    send = Scripted(status(503, "30"), status(200))
    await send_with_retries(send.send, RetryPolicy(retries=1, backoff_s=0.2, honour_retry_after=False))
    assert waits == [0.2]


async def test_a_budget_shortens_each_attempt_and_stops_retries_that_would_outlast_it(waits: list[float]) -> None:
    send = Scripted(status(503, "5"), status(200))
    response = await send_with_retries(send.send, RetryPolicy(retries=3), timeout_s=30.0, budget_s=2.0)
    # Waiting the 5 s the server asked for would end past the 2 s budget: the 503 is the answer.
    assert response.status_code == 503 and send.attempts == 1 and waits == []
    assert send.timeouts[0] is not None and send.timeouts[0] <= 2.0  # not the 30 s per-attempt timeout

    send = Scripted(status(503), status(200))
    response = await send_with_retries(send.send, RetryPolicy(retries=1, backoff_s=0.0), timeout_s=30.0, budget_s=2.0)
    assert response.status_code == 200 and all(t is not None and t <= 2.0 for t in send.timeouts)


async def test_without_a_budget_the_timeout_is_passed_through(waits: list[float]) -> None:
    send = Scripted(status(503), status(200))
    await send_with_retries(send.send, RetryPolicy(retries=1), timeout_s=7.5)
    assert send.timeouts == [7.5, 7.5]


def test_the_sync_helper_behaves_the_same(waits: list[float]) -> None:
    send = Scripted(refused(), status(503, "2"), status(200))
    assert send_with_retries_sync(send, RetryPolicy(retries=2, backoff_s=0.1)).status_code == 200
    assert waits == [0.1, 2.0]
    send = Scripted(httpx.ConnectTimeout("slow connect"))
    with pytest.raises(httpx.ConnectTimeout):
        send_with_retries_sync(send, RetryPolicy(retries=2))
    assert send.attempts == 1


def test_jitter_only_lengthens_the_wait_within_its_fraction() -> None:
    policy = RetryPolicy(retries=5, backoff_s=1.0, jitter=0.25, max_wait_s=100.0)
    for retry_number, base in [(1, 1.0), (2, 2.0), (3, 4.0)]:
        samples = [policy.backoff(retry_number) for _ in range(50)]
        assert all(base <= s <= base * 1.25 for s in samples)
    assert RetryPolicy(backoff_s=10.0, max_wait_s=3.0, jitter=0.25).backoff(4) == 3.0


def test_zero_retries_means_one_attempt() -> None:
    schedule = RetrySchedule(RetryPolicy(retries=0))
    assert schedule.next_wait() is None
    with pytest.raises(ValueError):
        RetryPolicy(retries=-1)


def test_retry_after_parsing() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8 <= (parse_retry_after(in_ten) or 0) <= 10.5
    in_the_past = email.utils.formatdate(time.time() - 100, usegmt=True)
    assert parse_retry_after(in_the_past) == 0.0
