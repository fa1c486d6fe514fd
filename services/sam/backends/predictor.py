"""The one code path for every SAM-family model (`sam`: ViT-B/L/H checkpoints, `litemedsam`: TinyViT): a
`segment_anything.modeling.Sam` run as a `VisualPipeline`, with an embedding LRU.

- `preprocess`: the boxes in the encoder's input coordinates (segment-anything's `ResizeLongestSide`);
- `_forward` (under the lock, inference mode): the image embedding from the LRU or the encoder, then one
  batched prompt-encoder + mask-decoder call for all boxes; out come the decoder's low-resolution logits;
- `postprocess`: logits -> masks at the original size -> COCO RLE, a chunk of boxes at a time, so the
  full-size masks of a big request are never all in memory and the model is free for the next request.

Every step is the arithmetic of segment-anything's `SamPredictor` (`set_image`, `predict_torch`,
`Sam.postprocess_masks`), without the predictor's per-call state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_utils
from segment_anything.modeling import Sam
from segment_anything.utils.transforms import ResizeLongestSide

from engines.vision.pipeline import VisualPipeline
from services.sam.backends.base import MaskResult, SegmentBackend, SegmentOutput
from services.sam.backends.decoder import predict_masks
from services.sam.embeddings import ImageEmbedding, embedding_cache
from services.sam.settings import SamSettings
from shared.images import DecodedImage
from shared.metrics import EMBEDDING_CACHE

if TYPE_CHECKING:
    from pycocotools import _EncodedRLE

APP_NAME = "sam"


@dataclass(frozen=True)
class SamInputs:
    image: DecodedImage
    boxes: torch.Tensor  # (N, 4) in the encoder's input coordinates, on the model's device


@dataclass(frozen=True)
class SamOutputs:
    low_res: torch.Tensor  # (N, h, w) mask logits from the decoder, before upsampling
    scores: torch.Tensor  # (N,) predicted IoU
    input_size: tuple[int, int]  # the resized image inside the encoder's padded square
    original_size: tuple[int, int]
    cached: bool


class PredictorBackend(VisualPipeline[np.ndarray, SamInputs, SamOutputs, SegmentOutput], SegmentBackend):
    def __init__(
        self,
        model: Sam,
        *,
        name: str,
        device: str = "cpu",
        embedding_cache_bytes: int = 256 * 1024 * 1024,
        multimask_output: bool = False,
        decode_max_pixels: int = 64_000_000,
    ) -> None:
        super().__init__()
        self.name = name
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.transform = ResizeLongestSide(self.image_size)
        self.cache = embedding_cache(embedding_cache_bytes)
        self.multimask_output = multimask_output
        self.decode_max_pixels = decode_max_pixels
        self._encoder_runs = 0

    @classmethod
    def from_settings(cls, model: Sam, name: str, settings: SamSettings) -> PredictorBackend:
        return cls(
            model,
            name=name,
            device=settings.device,
            embedding_cache_bytes=int(settings.embedding_cache_mb * 1024 * 1024),
            multimask_output=settings.multimask_output,
            decode_max_pixels=settings.decode_max_pixels,
        )

    @property
    def encoder_runs(self) -> int:
        """How many times the image encoder has run since the backend was loaded."""
        return self._encoder_runs

    @property
    def image_size(self) -> int:
        return int(self.model.image_encoder.img_size)

    def __repr__(self) -> str:
        return f"PredictorBackend(name={self.name!r}, image_size={self.image_size})"

    # -- pipeline steps -------------------------------------------------------------------------------------

    def preprocess(self, image: DecodedImage, items: np.ndarray) -> SamInputs:
        boxes = torch.as_tensor(np.asarray(items, dtype=np.float32).reshape(-1, 4), device=self.device)
        return SamInputs(image, self.transform.apply_boxes_torch(boxes, (image.height, image.width)))

    def _forward(self, inputs: SamInputs) -> SamOutputs:
        embedding, cached = self._embedding(inputs.image)
        low_res, scores = self.decode(embedding, inputs.boxes)
        return SamOutputs(low_res, scores, embedding.input_size, embedding.original_size, cached)

    def postprocess(self, outputs: SamOutputs, image: DecodedImage) -> SegmentOutput:
        height, width = outputs.original_size
        chunk = max(1, self.decode_max_pixels // (height * width))
        results: list[MaskResult] = []
        with torch.inference_mode():
            for start in range(0, outputs.low_res.shape[0], chunk):
                masks = self.upsample(outputs.low_res[start : start + chunk], outputs.input_size, outputs.original_size)
                results.extend(encode_masks(masks, outputs.scores[start : start + chunk].float().cpu().numpy()))
        return SegmentOutput(results=results, embedding_cached=outputs.cached)

    # -- model parts ----------------------------------------------------------------------------------------

    def _embedding(self, image: DecodedImage) -> tuple[ImageEmbedding, bool]:
        if self.cache.max_bytes:
            hit = self.cache.get(image.sha256)
            if hit is not None:
                EMBEDDING_CACHE.labels(APP_NAME, "hit").inc()
                return hit, True
        EMBEDDING_CACHE.labels(APP_NAME, "miss").inc()
        embedding = self.encode_image(image)
        if self.cache.max_bytes:
            self.cache.put(image.sha256, embedding)
        return embedding, False

    def encode_image(self, image: DecodedImage) -> ImageEmbedding:
        """Runs the image encoder (no cache): resize the longest side to the encoder's input, normalise with
        the model's pixel mean/std, pad, encode, as `SamPredictor.set_image` does. Call it from `forward`
        (or single-threaded code: the benchmark), which holds the lock and inference mode."""
        pixels = self.transform.apply_image(np.asarray(image.image))
        tensor = torch.as_tensor(pixels, device=self.device).permute(2, 0, 1).contiguous()[None]
        features = self.model.image_encoder(self.model.preprocess(tensor))
        self._encoder_runs += 1
        return ImageEmbedding(
            features=features,
            original_size=(image.height, image.width),
            input_size=(int(pixels.shape[0]), int(pixels.shape[1])),
        )

    def decode(self, embedding: ImageEmbedding, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """All boxes (input coordinates) in one batched prompt-encoder + mask-decoder call against one
        embedding: low-resolution logits (N, h, w) and predicted IoU (N,) of the mask kept per box."""
        sparse, dense = self.model.prompt_encoder(points=None, boxes=boxes, masks=None)
        low_res, iou = predict_masks(
            self.model.mask_decoder,
            embedding.features,
            self.model.prompt_encoder.get_dense_pe(),
            sparse,
            dense,
            self.multimask_output,
        )
        if self.multimask_output:
            best = iou.argmax(dim=1)
            rows = torch.arange(iou.shape[0], device=iou.device)
            return low_res[rows, best], iou[rows, best]
        return low_res[:, 0], iou[:, 0]

    def upsample(
        self, low_res: torch.Tensor, input_size: tuple[int, int], original_size: tuple[int, int]
    ) -> np.ndarray:
        """Boolean masks (n, H, W) at the original size: `Sam.postprocess_masks` and the mask threshold."""
        size = self.image_size
        logits = low_res[:, None].float()
        if logits.shape[-2:] != (size, size):
            logits = F.interpolate(logits, (size, size), mode="bilinear", align_corners=False)
        logits = logits[..., : input_size[0], : input_size[1]]
        logits = F.interpolate(logits, original_size, mode="bilinear", align_corners=False)
        masks: np.ndarray = (logits[:, 0] > self.model.mask_threshold).cpu().numpy()
        return masks


def encode_masks(masks: np.ndarray, scores: np.ndarray) -> list[MaskResult]:
    """COCO RLE of boolean masks (n, H, W), with `counts` as str so it travels in JSON."""
    if masks.shape[0] == 0:
        return []
    # pycocotools wants (H, W, n) uint8 in Fortran order.
    stacked = np.asfortranarray(np.transpose(masks, (1, 2, 0)).astype(np.uint8))
    # For (H, W, n) pycocotools returns one RLE per mask; its stubs type only the single-mask case.
    rles: list[_EncodedRLE] = mask_utils.encode(stacked)  # type: ignore[assignment]
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
