"""The one code path for every SAM-family model: segment-anything's `SamPredictor` plus an embedding LRU.

Both backends (`sam`: ViT-B/L/H checkpoints, `litemedsam`: TinyViT) build a `segment_anything.modeling.Sam`
and hand it to `PredictorBackend`, so encoding, prompting, mask post-processing and caching are shared.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from pycocotools import mask as mask_utils
from segment_anything import SamPredictor
from segment_anything.modeling import Sam

from services.sam.backends.base import MaskResult, SegmentBackend, SegmentOutput
from services.sam.embeddings import EmbeddingCache, ImageEmbedding
from services.sam.settings import SamSettings
from shared.images import DecodedImage
from shared.metrics import EMBEDDING_CACHE

APP_NAME = "sam"


@dataclass(frozen=True)
class _Prepared:
    image: DecodedImage
    boxes: torch.Tensor  # (N, 4) in original pixels, on the model's device
    embedding: ImageEmbedding | None  # None when reuse is off: each box encodes the image itself
    cached: bool


@dataclass(frozen=True)
class _Forwarded:
    chunks: Iterator[tuple[np.ndarray, np.ndarray]]
    cached: bool


class PredictorBackend(SegmentBackend):
    def __init__(
        self,
        model: Sam,
        *,
        name: str,
        device: str = "cpu",
        embedding_cache_bytes: int = 256 * 1024 * 1024,
        embedding_reuse: bool = True,
        multimask_output: bool = False,
        decode_max_pixels: int = 64_000_000,
    ) -> None:
        self.name = name
        self.model = model.to(device).eval()
        self.predictor = SamPredictor(self.model)
        self.cache = EmbeddingCache(embedding_cache_bytes)
        self.embedding_reuse = embedding_reuse
        self.multimask_output = multimask_output
        self.decode_max_pixels = decode_max_pixels
        self._encoder_runs = 0
        # `SamPredictor` keeps the current image's features on itself, so one request at a time uses it.
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, model: Sam, name: str, settings: SamSettings) -> PredictorBackend:
        return cls(
            model,
            name=name,
            device=settings.device,
            embedding_cache_bytes=int(settings.embedding_cache_mb * 1024 * 1024),
            embedding_reuse=settings.embedding_reuse,
            multimask_output=settings.multimask_output,
            decode_max_pixels=settings.decode_max_pixels,
        )

    @property
    def encoder_runs(self) -> int:
        return self._encoder_runs

    @property
    def image_size(self) -> int:
        return int(self.model.image_encoder.img_size)

    def __call__(self, image: DecodedImage, boxes: np.ndarray) -> SegmentOutput:
        with self._lock:
            return super().__call__(image, boxes)

    # -- pipeline steps -------------------------------------------------------------------------------------

    def preprocess(self, image: DecodedImage, boxes: np.ndarray) -> _Prepared:
        box_t = torch.as_tensor(np.asarray(boxes, dtype=np.float32).reshape(-1, 4), device=self.predictor.device)
        if not self.embedding_reuse:
            return _Prepared(image, box_t, None, False)
        embedding, cached = self._embedding(image)
        return _Prepared(image, box_t, embedding, cached)

    def _forward(self, inputs: _Prepared) -> _Forwarded:
        return _Forwarded(self._chunks(inputs), inputs.cached)

    def postprocess(self, outputs: _Forwarded) -> SegmentOutput:
        results: list[MaskResult] = []
        for masks, scores in outputs.chunks:
            results.extend(encode_masks(masks, scores))
        return SegmentOutput(results=results, embedding_cached=outputs.cached)

    def __repr__(self) -> str:
        return f"PredictorBackend(name={self.name!r}, image_size={self.image_size})"

    # -- helpers --------------------------------------------------------------------------------------------

    def _chunks(self, inputs: _Prepared) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yields (masks (n, H, W) bool, scores (n,)) chunk by chunk, so that the full-size masks of a big
        request are never all in memory at once; runs lazily inside `__call__`, under the lock."""
        if inputs.embedding is None:
            for i in range(inputs.boxes.shape[0]):
                yield self.decode_boxes(self.encode_image(inputs.image), inputs.boxes[i : i + 1])
            return
        height, width = inputs.embedding.original_size
        per_box = height * width * (3 if self.multimask_output else 1)
        chunk = max(1, self.decode_max_pixels // per_box)
        for start in range(0, inputs.boxes.shape[0], chunk):
            yield self.decode_boxes(inputs.embedding, inputs.boxes[start : start + chunk])

    def _embedding(self, image: DecodedImage) -> tuple[ImageEmbedding, bool]:
        if self.cache.max_bytes > 0:
            hit = self.cache.get(image.sha256)
            if hit is not None:
                EMBEDDING_CACHE.labels(APP_NAME, "hit").inc()
                return hit, True
        EMBEDDING_CACHE.labels(APP_NAME, "miss").inc()
        embedding = self.encode_image(image)
        if self.cache.max_bytes > 0:
            self.cache.put(image.sha256, embedding)
        return embedding, False

    def encode_image(self, image: DecodedImage) -> ImageEmbedding:
        """Runs the image encoder (no cache). Like `decode_boxes`, it uses the predictor without the lock:
        call it from `__call__` or from single-threaded code (the benchmark)."""
        # `set_image` resizes the longest side to the encoder's input, normalises with the model's pixel
        # mean/std, pads and runs the encoder, exactly as segment-anything does for its own demos.
        self.predictor.set_image(np.asarray(image.image), image_format="RGB")
        self._encoder_runs += 1
        features = self.predictor.features
        assert features is not None
        height, width = self.predictor.original_size
        in_height, in_width = self.predictor.input_size
        return ImageEmbedding(
            features=features,
            original_size=(int(height), int(width)),
            input_size=(int(in_height), int(in_width)),
        )

    def _use(self, embedding: ImageEmbedding) -> None:
        """Puts a (possibly cached) embedding on the predictor, as `set_torch_image` would have left it."""
        predictor = self.predictor
        predictor.reset_image()
        predictor.features = embedding.features
        predictor.original_size = embedding.original_size
        predictor.input_size = embedding.input_size
        predictor.is_image_set = True

    @torch.no_grad()
    def decode_boxes(self, embedding: ImageEmbedding, boxes: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """All boxes in one batched prompt-encoder + mask-decoder call against one embedding."""
        self._use(embedding)
        transformed = self.predictor.transform.apply_boxes_torch(boxes, embedding.original_size)
        masks, iou, _ = self.predictor.predict_torch(
            point_coords=None, point_labels=None, boxes=transformed, multimask_output=self.multimask_output
        )
        if self.multimask_output:
            best = iou.argmax(dim=1)
            rows = torch.arange(iou.shape[0], device=iou.device)
            masks, iou = masks[rows, best], iou[rows, best]
        else:
            masks, iou = masks[:, 0], iou[:, 0]
        return masks.cpu().numpy(), iou.float().cpu().numpy()


def encode_masks(masks: np.ndarray, scores: np.ndarray) -> list[MaskResult]:
    """COCO RLE of boolean masks (n, H, W), with `counts` as str so it travels in JSON."""
    if masks.shape[0] == 0:
        return []
    # pycocotools wants (H, W, n) uint8 in Fortran order.
    stacked = np.asfortranarray(np.transpose(masks, (1, 2, 0)).astype(np.uint8))
    rles = mask_utils.encode(stacked)
    areas = mask_utils.area(rles)
    out = []
    for rle, area, score in zip(rles, areas, scores, strict=True):
        counts = rle["counts"]
        height, width = (int(v) for v in rle["size"])
        out.append(
            MaskResult(
                size=(height, width),
                counts=counts.decode("ascii") if isinstance(counts, bytes) else str(counts),
                area=int(area),
                score=float(score),
            )
        )
    return out
