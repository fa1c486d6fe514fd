"""One retry loop for every HTTP call we make: bounded attempts, exponential backoff, `Retry-After`, a time budget.

The loop only decides *whether and when* to send again; what a failed call means (a `StageError`, an
`LLMError`, a `GMNERAPIError`) stays with each caller. It returns the last response, retryable status
included, once no attempt is left, and re-raises the last exception, so a caller maps both as it did before.

Not tenacity: it is not among our dependencies, and the parts that matter here (the wait a server asks for,
a budget that also shortens each attempt's timeout, a response that is returned rather than raised) would be
callbacks around it anyway.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

# Statuses worth another try: the server is busy (429) or briefly unavailable.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

# An attempt is never sent with less time than this: a request with a near-zero timeout only wastes a socket.
MIN_ATTEMPT_TIMEOUT_S = 0.001


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are tried again, how often and after how long.

    The wait before retry n (1-based) is `backoff_s * 2 ** (n - 1)`, times `1 + U(0, jitter)`, or the
    server's `Retry-After` when `honour_retry_after` and it sent one; either is capped at `max_wait_s`.
    """

    retries: int = 1
    backoff_s: float = 0.2
    max_wait_s: float = 30.0
    jitter: float = 0.0
    statuses: frozenset[int] = RETRYABLE_STATUSES
    retry_exceptions: tuple[type[BaseException], ...] = (httpx.TransportError,)
    # Checked first: httpx's timeouts are TransportErrors, and a timed-out call has spent its time already.
    never_retry: tuple[type[BaseException], ...] = (httpx.TimeoutException,)
    honour_retry_after: bool = True

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must be >= 0")

    def retryable_exception(self, exc: BaseException) -> bool:
        return isinstance(exc, self.retry_exceptions) and not isinstance(exc, self.never_retry)

    def backoff(self, retry: int) -> float:
        wait = self.backoff_s * 2.0 ** (retry - 1)
        if self.jitter:
            # So that clients refused together do not all come back together.
            wait *= 1 + random.random() * self.jitter
        return min(wait, self.max_wait_s)

    def wait_s(self, retry: int, response: httpx.Response | None) -> float:
        if response is not None and self.honour_retry_after:
            after = parse_retry_after(response.headers.get("retry-after"))
            if after is not None:
                return min(after, self.max_wait_s)
        return self.backoff(retry)


class RetrySchedule:
    """The state of one call's attempts: how many retries are left and how much of the budget."""

    def __init__(self, policy: RetryPolicy, budget_s: float | None = None) -> None:
        self.policy = policy
        self.retries_made = 0
        self.ends = None if budget_s is None else time.monotonic() + budget_s

    def attempt_timeout(self, timeout_s: float | None) -> float | None:
        """`timeout_s`, or what is left of the budget if that is less."""
        if self.ends is None:
            return timeout_s
        left = max(MIN_ATTEMPT_TIMEOUT_S, self.ends - time.monotonic())
        return left if timeout_s is None else min(timeout_s, left)

    def next_wait(self, response: httpx.Response | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None when no retry is left or the wait outlasts the budget."""
        if self.retries_made >= self.policy.retries:
            return None
        wait = self.policy.wait_s(self.retries_made + 1, response)
        if self.ends is not None and time.monotonic() + wait >= self.ends:
            return None
        self.retries_made += 1
        return wait


async def send_with_retries(
    send: Callable[[float | None], Awaitable[httpx.Response]],
    policy: RetryPolicy,
    *,
    timeout_s: float | None = None,
    budget_s: float | None = None,
) -> httpx.Response:
    """Call `send(timeout)` until it answers with a status outside `policy.statuses` or no retry is left.

    `budget_s` bounds the whole call, waits included: each attempt's timeout is cut to what is left, and no
    retry starts whose wait would end past it. Returns the last response (possibly a retryable status);
    raises the last exception when the last attempt raised one.
    """
    schedule = RetrySchedule(policy, budget_s)
    while True:
        try:
            response = await send(schedule.attempt_timeout(timeout_s))
        except Exception as exc:
            wait = schedule.next_wait() if policy.retryable_exception(exc) else None
            if wait is None:
                raise
            await asyncio.sleep(wait)
            continue
        if response.status_code in policy.statuses:
            wait = schedule.next_wait(response)
            if wait is not None:
                await response.aclose()
                await asyncio.sleep(wait)
                continue
        return response


def send_with_retries_sync(
    send: Callable[[float | None], httpx.Response],
    policy: RetryPolicy,
    *,
    timeout_s: float | None = None,
    budget_s: float | None = None,
) -> httpx.Response:
    """`send_with_retries` for synchronous clients."""
    schedule = RetrySchedule(policy, budget_s)
    while True:
        try:
            response = send(schedule.attempt_timeout(timeout_s))
        except Exception as exc:
            wait = schedule.next_wait() if policy.retryable_exception(exc) else None
            if wait is None:
                raise
            time.sleep(wait)
            continue
        if response.status_code in policy.statuses:
            wait = schedule.next_wait(response)
            if wait is not None:
                response.close()
                time.sleep(wait)
                continue
        return response


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds: either a number of seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
