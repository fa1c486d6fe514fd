"""Open-vocabulary detectors through `transformers` (production): OWLv2 and Grounding DINO.

Each expression becomes a short text query (`detector_query`, the description by default: detectors know
categories, not names). Per query the backend keeps the single best-scoring box; its score is the
detector's sigmoid probability for that query. Boxes are mapped back to original-image pixels here rather
than through the processors' post-processing, whose conventions differ between models and versions:
- OWLv2 pads the image to a square (bottom/right) before resizing, so its normalised boxes are relative
  to a square of side max(width, height).
- Grounding DINO's normalised boxes are relative to the image itself.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from typing import Any

from engines.vision.boxes import Box
from engines.vision.expressions import fill
from services.vg.backends.base import Scored, VGPipeline
from shared.images import DecodedImage
from shared.protocol.visual import VisualExpression


def _corners(cx: float, cy: float, w: float, h: float, sx: float, sy: float) -> Box:
    return ((cx - w / 2) * sx, (cy - h / 2) * sy, (cx + w / 2) * sx, (cy + h / 2) * sy)


class _TorchDetector(VGPipeline[Any]):
    """Loads a `transformers` detector and its processor; subclasses name the classes and read their limits."""

    def __init__(
        self,
        model: str,
        *,
        query: str = "{description}",
        device: str = "cpu",
        dtype: str = "float32",
        min_score: float = 0.0,
    ) -> None:
        super().__init__(min_score)
        import torch

        self.torch = torch
        self.device = device
        self.dtype = getattr(torch, dtype)
        self.query = query
        self.processor, detector = self._load(model, self.dtype)
        self.model = detector.to(device).eval()
        self._loaded()

    @abstractmethod
    def _load(self, model: str, dtype: Any) -> tuple[Any, Any]:
        """The processor and the model (on the CPU, not yet in eval mode)."""

    def _loaded(self) -> None:
        """Reads what the model's config fixes (text lengths, special tokens) once it is loaded."""

    def _to_device(self, inputs: Any) -> dict[str, Any]:
        return {
            k: (v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device))
            for k, v in inputs.items()
            if hasattr(v, "to")
        }


class Owlv2VGBackend(_TorchDetector):
    name = "owlv2"

    def _loaded(self) -> None:
        # OWL's text tower has 16 positions: longer queries are cut.
        self.max_length: int = self.model.config.text_config.max_position_embeddings

    def _load(self, model: str, dtype: Any) -> tuple[Any, Any]:
        from transformers import Owlv2ForObjectDetection, Owlv2Processor

        return Owlv2Processor.from_pretrained(model), Owlv2ForObjectDetection.from_pretrained(model, dtype=dtype)

    def preprocess(self, image: DecodedImage, expressions: list[VisualExpression]) -> Any:
        queries = [fill(self.query, e) for e in expressions]
        inputs = self.processor(
            text=[queries],
            images=image.image,
            return_tensors="pt",
            padding="max_length",
            truncation=True,
            max_length=self.max_length,
        )
        return image, inputs

    def _forward(self, inputs: Any) -> list[Scored]:
        image, batch = inputs
        outputs = self.model(**self._to_device(batch))
        probs = self.torch.sigmoid(outputs.logits[0].float())  # (patches, queries)
        scores, best = probs.max(dim=0)
        boxes: list[list[float]] = outputs.pred_boxes[0].float()[best].cpu().tolist()  # cx, cy, w, h per query
        side = float(max(image.width, image.height))
        return [
            (_corners(cx, cy, w, h, side, side), float(score))
            for (cx, cy, w, h), score in zip(boxes, scores.cpu().tolist(), strict=True)
        ]


_DOTS = re.compile(r"[.?]+")


class GroundingDinoVGBackend(_TorchDetector):
    """All queries of a call go in one caption `"q1. q2. q3."` (split into several forward passes only when
    they exceed the text length); a query's score for a box is the best of its tokens' probabilities."""

    name = "grounding-dino"

    def _load(self, model: str, dtype: Any) -> tuple[Any, Any]:
        from transformers import AutoProcessor, GroundingDinoForObjectDetection

        return AutoProcessor.from_pretrained(model), GroundingDinoForObjectDetection.from_pretrained(model, dtype=dtype)

    def _loaded(self) -> None:
        self.max_text_len: int = self.model.config.max_text_len
        tokenizer = self.processor.tokenizer
        self.tokenizer = tokenizer
        # Phrases are the token runs between these; "." only if the vocabulary has it (else it maps to [UNK]).
        boundaries = [tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id]
        if "." in tokenizer.get_vocab():
            boundaries.append(tokenizer.convert_tokens_to_ids("."))
        self.boundaries = {b for b in boundaries if b is not None}

    def _query(self, expression: VisualExpression) -> str:
        # "." separates phrases in Grounding DINO's caption, so it may not appear inside one.
        text = " ".join(_DOTS.sub(" ", fill(self.query, expression)).lower().split())
        text = text or " ".join(_DOTS.sub(" ", expression.entity).lower().split()) or "object"
        return " ".join(text.split()[:32])

    def preprocess(self, image: DecodedImage, expressions: list[VisualExpression]) -> Any:
        queries = [self._query(e) for e in expressions]
        budget = self.max_text_len - 2  # [CLS] and [SEP]
        chunks: list[list[int]] = [[]]
        used = 0
        for i, query in enumerate(queries):
            cost = len(self.tokenizer(query, add_special_tokens=False)["input_ids"]) + 1  # + "."
            if chunks[-1] and used + cost > budget:
                chunks.append([])
                used = 0
            chunks[-1].append(i)
            used += cost
        batches = []
        for chunk in chunks:
            caption = ". ".join(queries[i] for i in chunk) + "."
            batch = self.processor(images=image.image, text=caption, return_tensors="pt", truncation=True)
            batches.append((chunk, batch))
        return image, len(queries), batches

    def _forward(self, inputs: Any) -> list[Scored]:
        image, n_queries, batches = inputs
        results: list[Scored] = [(None, 0.0)] * n_queries
        for chunk, batch in batches:
            ids = batch["input_ids"][0].tolist()
            outputs = self.model(**self._to_device(batch))
            probs = self.torch.sigmoid(outputs.logits[0].float())  # (queries, text positions)
            boxes = outputs.pred_boxes[0].float()
            for index, (start, end) in zip(chunk, self._spans(ids), strict=False):
                per_box = probs[:, start:end].max(dim=1).values
                score, best = per_box.max(dim=0)
                cx, cy, w, h = boxes[best].cpu().tolist()
                results[index] = (_corners(cx, cy, w, h, float(image.width), float(image.height)), float(score))
        return results

    def _spans(self, ids: list[int]) -> list[tuple[int, int]]:
        """Token ranges of the phrases between boundary tokens, in order."""
        spans: list[tuple[int, int]] = []
        start: int | None = None
        for position, token in enumerate(ids):
            if token in self.boundaries:
                if start is not None:
                    spans.append((start, position))
                    start = None
            elif start is None:
                start = position
        return spans
