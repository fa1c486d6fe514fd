"""The SAM backend interface (HF-pipeline shape: `preprocess` / `_forward` / `postprocess`, public `__call__`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.images import DecodedImage


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


class SegmentBackend(ABC):
    """Turns an image and validated boxes (float32 array of shape (N, 4), x1 y1 x2 y2, inside the image) into
    one mask per box. Implementations are called from a worker thread and must be safe to call concurrently."""

    name: str

    @property
    @abstractmethod
    def encoder_runs(self) -> int:
        """How many times the image encoder has run since the backend was loaded."""

    @abstractmethod
    def preprocess(self, image: DecodedImage, boxes: np.ndarray) -> Any: ...

    @abstractmethod
    def _forward(self, inputs: Any) -> Any: ...

    @abstractmethod
    def postprocess(self, outputs: Any) -> SegmentOutput: ...

    def __call__(self, image: DecodedImage, boxes: np.ndarray) -> SegmentOutput:
        return self.postprocess(self._forward(self.preprocess(image, boxes)))
