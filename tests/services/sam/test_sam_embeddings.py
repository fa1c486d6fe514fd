"""The embedding LRU: bounded by tensor bytes, least recently used out first."""

from __future__ import annotations

import torch

from services.sam.embeddings import ImageEmbedding, embedding_cache


def embedding(n_floats: int) -> ImageEmbedding:
    return ImageEmbedding(features=torch.zeros(n_floats), original_size=(10, 10), input_size=(10, 10))


def test_budget_counts_tensor_bytes_and_evicts_lru() -> None:
    cache = embedding_cache(max_bytes=1000)
    cache.put("a", embedding(100))  # 400 bytes
    cache.put("b", embedding(100))
    assert cache.nbytes == 800
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", embedding(100))  # 1200 > 1000: b goes
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    assert cache.nbytes == 800 and len(cache) == 2


def test_oversized_entry_is_not_kept_and_replacing_a_key_frees_its_bytes() -> None:
    cache = embedding_cache(max_bytes=1000)
    cache.put("a", embedding(100))
    cache.put("big", embedding(1000))
    assert cache.get("big") is None and cache.get("a") is not None
    cache.put("a", embedding(50))
    assert cache.nbytes == 200
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0
