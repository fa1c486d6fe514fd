"""Redis cache of LLM outputs. A Redis outage never fails a request: it is logged, counted, skipped."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, cast

import redis.asyncio as redis
from redis.exceptions import RedisError

from shared.metrics import LLM_CACHE

logger = logging.getLogger(__name__)


def cache_key(prefix: str, model: str, api: str, prompt: Any, params: dict[str, Any]) -> str:
    """Key over everything that decides the output: model, API flavour, prompt, sampling parameters."""
    material = json.dumps(
        {"model": model, "api": api, "prompt": prompt, "params": params},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return prefix + hashlib.sha256(material.encode("utf-8")).hexdigest()


_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def _lock_key(key: str) -> str:
    return key + ":lock"


class LLMCache:
    """Get/set text values with a TTL; counts hits, misses and errors (also as Prometheus metrics)."""

    def __init__(self, url: str, ttl_s: int, *, app: str, enabled: bool = True, socket_timeout_s: float = 0.5):
        self.ttl_s = ttl_s
        self.enabled = enabled
        self.app = app
        self.hits = 0
        self.misses = 0
        self.errors = 0
        self._redis = redis.Redis.from_url(
            url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s, decode_responses=True
        )

    async def get(self, key: str) -> str | None:
        if not self.enabled:
            return None
        try:
            value = await self._get_text(key)
        except (RedisError, OSError) as exc:
            self._error("get", exc)
            return None
        if value is None:
            self.misses += 1
            LLM_CACHE.labels(self.app, "miss").inc()
        else:
            self.hits += 1
            LLM_CACHE.labels(self.app, "hit").inc()
        return value

    async def set(self, key: str, value: str) -> None:
        if not self.enabled:
            return
        try:
            await self._redis.set(key, value, ex=self.ttl_s)
        except (RedisError, OSError) as exc:
            self._error("set", exc)

    async def acquire_lock(self, key: str, token: str, ttl_s: float) -> bool | None:
        """Take the single-flight lock of `key`: True if taken, False if someone holds it, None if Redis failed."""
        if not self.enabled:
            return None
        try:
            return bool(await self._redis.set(_lock_key(key), token, nx=True, px=max(1, int(ttl_s * 1000))))
        except (RedisError, OSError) as exc:
            self._error("lock", exc)
            return None

    async def lock_held(self, key: str) -> bool | None:
        if not self.enabled:
            return None
        try:
            return bool(await self._redis.exists(_lock_key(key)))
        except (RedisError, OSError) as exc:
            self._error("lock", exc)
            return None

    async def release_lock(self, key: str, token: str) -> None:
        """Drop the lock only if it is still ours: after its TTL another caller may hold it."""
        if not self.enabled:
            return
        try:
            await self._redis.eval(_RELEASE, 1, _lock_key(key), token)
        except (RedisError, OSError) as exc:
            self._error("unlock", exc)

    async def peek(self, key: str) -> str | None:
        """Like get, without counting a hit or a miss (a waiter polling for the holder's answer)."""
        if not self.enabled:
            return None
        try:
            return await self._get_text(key)
        except (RedisError, OSError) as exc:
            self._error("get", exc)
            return None

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "errors": self.errors}

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _get_text(self, key: str) -> str | None:
        # The client decodes responses (decode_responses=True); redis' types cannot tell, and say bytes | str.
        return cast("str | None", await self._redis.get(key))

    def _error(self, op: str, exc: Exception) -> None:
        self.errors += 1
        LLM_CACHE.labels(self.app, "error").inc()
        logger.warning("llm cache unavailable, answering uncached", extra={"op": op, "error": str(exc)})
