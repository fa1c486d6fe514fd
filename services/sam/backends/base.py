"""What a SAM backend answers: one RLE mask per box, and whether the image's embedding came from the cache."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import numpy as np

from engines.vision.pipeline import VisualBackend


@dataclass(frozen=True)
class MaskResult:
    """One box's mask as COCO RLE over the original image, its pixel area and the predicted IoU."""

    size: tuple[int, int]  # (height, width)
    counts: str
    area: int
    score: float


@dataclass(frozen=True)
class SegmentOutput:
    results: list[MaskResult]
    embedding_cached: bool  # every box was decoded from an embedding computed by an earlier request


class SegmentBackend(VisualBackend[np.ndarray, SegmentOutput]):
    """What the SAM serving class calls: an image and validated boxes (float32 array of shape (N, 4), x1 y1
    x2 y2, inside the image) in, one mask per box out."""

    @property
    @abstractmethod
    def encoder_runs(self) -> int:
        """How many times the image encoder has run since the backend was loaded."""
