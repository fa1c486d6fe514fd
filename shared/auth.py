"""Optional API keys: a file of `name:sha256-hex` lines, checked on every request by `RequestMiddleware`.

Keys are random tokens (see `gmner keys new`), so one SHA-256 is enough: the file never holds a usable key.
The file is re-read when it changes, so adding or revoking a key needs no restart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path

from shared.errors import Forbidden, Unauthorized

logger = logging.getLogger(__name__)

# Paths that never need a key: liveness must stay answerable by orchestrators and load balancers.
ALWAYS_OPEN = frozenset({"/health"})


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "gmner_" + secrets.token_urlsafe(32)


def parse_keys(text: str) -> dict[str, str]:
    """`name:hash` per line; blank lines and `#` comments are skipped. Returns {hash: name}."""
    keys: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, digest = line.rpartition(":")
        digest = digest.strip().lower()
        if not sep or not name.strip() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"line {number}: expected `name:<64 hex digits of sha256(key)>`")
        keys[digest] = name.strip()
    return keys


class APIKeys:
    """Checks `Authorization: Bearer <key>` or `X-API-Key: <key>` against the keys file."""

    def __init__(self, path: Path, *, per_key_max_inflight: int, protect_metrics: bool, protect_ready: bool) -> None:
        self.path = path
        self.per_key_max_inflight = per_key_max_inflight
        self.open_paths = set(ALWAYS_OPEN)
        if not protect_metrics:
            self.open_paths.add("/metrics")
        if not protect_ready:
            self.open_paths.add("/ready")
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, str] = {}
        self._reload()  # a missing or broken file fails start-up, not the first request

    def key_limit(self) -> int:
        return self.per_key_max_inflight

    def needs_key(self, path: str) -> bool:
        # The page and its files load without a key; the page then asks for one.
        return not (path in self.open_paths or path == "/" or path.startswith("/static/"))

    def identify(self, path: str, headers: Mapping[str, str]) -> str | None:
        if not self.needs_key(path):
            return None
        presented = _presented_key(headers)
        if presented is None:
            raise Unauthorized("api_key_required", "Send an API key: `Authorization: Bearer <key>` or `X-API-Key`.")
        self._maybe_reload()
        digest = hash_key(presented)
        name = None
        # Every entry is compared, in constant time each, so timing says nothing about which hash matched.
        for known, known_name in self._keys.items():
            if hmac.compare_digest(known, digest):
                name = known_name
        if name is None:
            raise Forbidden("api_key_invalid", "The API key is not valid (unknown or revoked).")
        return name

    def _maybe_reload(self) -> None:
        try:
            stat = self.path.stat()
        except OSError:
            logger.warning("api keys file unreadable; keeping the keys loaded before", extra={"path": str(self.path)})
            return
        if (stat.st_mtime_ns, stat.st_size) != self._stamp:
            try:
                self._reload()
            except (OSError, ValueError) as exc:
                logger.warning("api keys file invalid; keeping the keys loaded before", extra={"error": str(exc)})

    def _reload(self) -> None:
        with self._lock:
            stat = os.stat(self.path)
            keys = parse_keys(self.path.read_text())
            self._keys, self._stamp = keys, (stat.st_mtime_ns, stat.st_size)
        logger.info("api keys loaded", extra={"keys": len(keys), "names": sorted(set(keys.values()))})


def _presented_key(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = headers.get("x-api-key", "").strip()
    return key or None
