"""Readiness probes of dependencies, answered from a cache refreshed in the background.

A readiness endpoint must answer at once: when it waits on a dependency that is merely busy (an LLM server
generating answers `/v1/models` in seconds), the caller's own probe times out and a healthy app is taken out
of service. So a check answers its last result and refreshes it in a task; only a first check waits (briefly).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class CachedCheck:
    """Runs `check` at most every `interval_s` in the background; `result()` answers the last outcome.

    `failures_to_fail` consecutive failures are needed before the check reports failure, so one slow probe
    of a busy dependency does not flip readiness.
    """

    def __init__(
        self,
        check: Callable[[], Awaitable[bool]],
        *,
        interval_s: float = 2.0,
        first_wait_s: float = 1.0,
        failures_to_fail: int = 1,
    ) -> None:
        self._check = check
        self.interval_s = interval_s
        self.first_wait_s = first_wait_s
        self.failures_to_fail = failures_to_fail
        self._ok: bool | None = None
        self._failures = 0
        self._checked_at = 0.0
        self._task: asyncio.Task[None] | None = None

    def record(self, ok: bool) -> None:
        """Count an outcome seen elsewhere (a real call to the dependency) as a probe result."""
        self._failures = 0 if ok else self._failures + 1
        if ok or self._failures >= self.failures_to_fail:
            self._ok = ok
        self._checked_at = time.monotonic()

    async def result(self) -> bool:
        stale = time.monotonic() - self._checked_at >= self.interval_s
        if stale and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._refresh())
        if self._ok is None and self._task is not None:
            # Nothing known yet (first probe after start): wait a little, then answer "not yet".
            await asyncio.wait({self._task}, timeout=self.first_wait_s)
        return bool(self._ok)

    async def _refresh(self) -> None:
        try:
            ok = await self._check()
        except Exception:  # a probe that raises is a failed probe
            ok = False
        self.record(ok)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
