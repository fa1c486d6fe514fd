"""One in-process LRU for the per-image results the apps keep: decoded images, SAM embeddings, detections, faces, OCR.

Keys are the SHA-256 of the image bytes, so a post sent twice (or sent by the gateway to VE, then VG) is worked
on once. Not `cachetools`: its caches take one bound (items or `getsizeof`), are not thread-safe and count
nothing, and every use here needs two bounds, a lock and hit/miss counts for `/metrics`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from shared.metrics import MEMORY_CACHE

V = TypeVar("V")


class LRUCache(Generic[V]):
    """Thread-safe LRU bounded by item count and, with `size_of`, by bytes; counts hits and misses.

    `max_items=0` keeps nothing, `None` bounds by bytes alone. A value over `max_item_bytes` (default: the whole
    byte budget) is not kept, so one huge image cannot flush everything else.
    """

    def __init__(
        self,
        name: str,
        *,
        max_items: int | None,
        max_bytes: int | None = None,
        size_of: Callable[[V], int] | None = None,
        max_item_bytes: int | None = None,
    ) -> None:
        if (max_bytes is None) != (size_of is None):
            raise ValueError("a byte bound needs size_of, and size_of a byte bound")
        self.name = name
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.max_item_bytes = max_item_bytes if max_item_bytes is not None else max_bytes
        self._size_of = size_of
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
            else:
                self._items.move_to_end(key)
                self.hits += 1
        MEMORY_CACHE.labels(self.name, "miss" if found is None else "hit").inc()
        return None if found is None else found[0]

    def put(self, key: str, value: V) -> bool:
        """Keep `value` under `key` (replacing what was there); False when it is not kept (no room for it)."""
        size = self._size_of(value) if self._size_of is not None else 0
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
            if self.max_items == 0 or (self.max_item_bytes is not None and size > self.max_item_bytes):
                return False
            self._items[key] = (value, size)
            self.nbytes += size
            while (self.max_items is not None and len(self._items) > self.max_items) or (
                self.max_bytes is not None and self.nbytes > self.max_bytes
            ):
                _, (_, evicted) = self._items.popitem(last=False)
                self.nbytes -= evicted
        return True

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.nbytes = 0
