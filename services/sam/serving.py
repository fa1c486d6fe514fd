"""`ServingSam`: boxes clipped to the decoded image, then the backend in a worker thread.

The schema (`shared.protocol.common.Box`) already refused boxes that are not four finite numbers with
x2 > x1 and y2 > y1 (422); only what needs the image (a box outside it) is checked here."""

from __future__ import annotations

import asyncio
import math

import numpy as np

from services.sam.backends.base import SegmentBackend
from services.sam.settings import SamSettings
from shared.errors import InvalidInput
from shared.images import ImageCache
from shared.protocol.common import RLEMask
from shared.protocol.visual import Segmentation, SegmentParams, SegmentResponse


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clips boxes to the image; a box with no area inside the image is an error, not an empty mask."""
    clipped = boxes.copy()
    clipped[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    clipped[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    for i, (x1, y1, x2, y2) in enumerate(clipped):
        if x2 <= x1 or y2 <= y1:
            raise InvalidInput(
                "box_outside_image",
                f"boxes[{i}] {boxes[i].tolist()} does not overlap the {width}x{height} image.",
            )
    return clipped.astype(np.float32)


class ServingSam:
    def __init__(self, backend: SegmentBackend, settings: SamSettings) -> None:
        self.backend = backend
        self.settings = settings
        self.images = ImageCache(settings.image)

    @property
    def encoder_runs(self) -> int:
        """Image-encoder runs since start: with reuse on, one per distinct image still in the LRU."""
        return self.backend.encoder_runs

    async def segment(self, params: SegmentParams, image_bytes: bytes) -> SegmentResponse:
        boxes = np.asarray(params.boxes, dtype=np.float64).reshape(-1, 4)
        # Decoding and SAM are CPU-bound: keep them off the event loop.
        image = await asyncio.to_thread(self.images.decode, image_bytes)
        clipped = clip_boxes(boxes, image.width, image.height)
        output = await self.backend.run(image, clipped)
        return SegmentResponse(
            results=[
                Segmentation(
                    mask=RLEMask(size=list(r.size), counts=r.counts),
                    area=r.area,
                    # A badly trained model can predict a NaN IoU; JSON cannot carry it.
                    score=r.score if math.isfinite(r.score) else 0.0,
                )
                for r in output.results
            ],
            backend=self.backend.name,
            embedding_cached=output.embedding_cached,
        )
