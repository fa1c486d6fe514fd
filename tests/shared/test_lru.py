"""The one in-process LRU (shared/lru.py): two bounds, oversized values refused, counts."""

from __future__ import annotations

import pytest

from shared.lru import LRUCache


def test_the_count_bound_evicts_the_least_recently_used() -> None:
    cache: LRUCache[int] = LRUCache("t", max_items=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    assert (cache.hits, cache.misses) == (3, 1)


def test_the_byte_bound_and_the_largest_value_kept() -> None:
    cache: LRUCache[str] = LRUCache("t", max_items=None, max_bytes=10, size_of=len, max_item_bytes=6)
    assert cache.put("a", "xxxx") and cache.put("b", "yyyy")
    assert cache.put("c", "zzzz")  # 12 > 10: a goes
    assert cache.get("a") is None and cache.nbytes == 8
    assert not cache.put("big", "x" * 7)  # over max_item_bytes: not kept, nothing evicted
    assert len(cache) == 2
    cache.put("b", "y")  # replacing a key frees its bytes
    assert cache.nbytes == 5
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


def test_zero_items_keeps_nothing_and_a_byte_bound_needs_a_size() -> None:
    cache: LRUCache[int] = LRUCache("t", max_items=0)
    assert not cache.put("a", 1) and cache.get("a") is None
    with pytest.raises(ValueError, match="size_of"):
        LRUCache("t", max_items=1, max_bytes=10)
