"""An LRU of SAM image embeddings keyed by the SHA-256 of the image bytes, bounded by tensor bytes."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from shared.lru import LRUCache


@dataclass(frozen=True)
class ImageEmbedding:
    """What `SamPredictor.set_image` leaves on the predictor: enough to decode boxes without re-encoding."""

    features: torch.Tensor
    original_size: tuple[int, int]  # (height, width) of the image as sent
    input_size: tuple[int, int]  # (height, width) after resizing the longest side to the encoder's input

    @property
    def nbytes(self) -> int:
        return self.features.element_size() * self.features.nelement()


def embedding_cache(max_bytes: int) -> LRUCache[ImageEmbedding]:
    """The LRU of embeddings, bounded by tensor bytes; an embedding larger than the whole budget is never kept."""
    return LRUCache("sam_embedding", max_items=None, max_bytes=max_bytes, size_of=lambda e: e.nbytes)
