"""CLIP / SigLIP image-text similarity (production): any local path or hub id that `AutoModel` and
`AutoProcessor` load as a dual encoder (CLIP, SigLIP, SigLIP 2, ...).

The image is encoded once per call and every expression's text is scored against it in one batch.
Scores:
- CLIP-style models (no `logit_bias`): the cosine similarity of the two embeddings. The learned
  `logit_scale` (x100) only sharpens a softmax over several texts, which VE does not do, so the raw cosine
  is the quantity with a meaning of its own (LAION filtered its data at 0.28-0.3 with ViT-B/32).
  Default threshold 0.25.
- SigLIP-style models (a `logit_bias`): `sigmoid(scale * cosine + bias)`, the probability the model was
  trained to output for a matching pair. Default threshold 0.1 (SigLIP's probabilities for true pairs
  are often well below 0.5).
Neither default is calibrated on GMNER data: set `GMNER_VE_THRESHOLD` from a sweep on a labelled dev set.
"""

from __future__ import annotations

from typing import Any

from engines.vision.expressions import fill
from services.ve.backends.base import VEPipeline
from shared.images import DecodedImage
from shared.protocol.visual import VisualExpression

CLIP_THRESHOLD = 0.25
SIGLIP_THRESHOLD = 0.1


class ClipVEBackend(VEPipeline[Any]):
    name = "clip"

    def __init__(
        self,
        model: str,
        *,
        template: str = "a photo of {entity}, {description}",
        threshold: float | None = None,
        device: str = "cpu",
        dtype: str = "float32",
    ) -> None:
        import torch
        from transformers import AutoModel, AutoProcessor

        self.torch = torch
        self.device = device
        self.template = template
        self.processor = AutoProcessor.from_pretrained(model)
        self.model = AutoModel.from_pretrained(model, dtype=getattr(torch, dtype)).to(device).eval()
        # SigLIP-family models carry a learned bias and were trained with a sigmoid loss.
        self.sigmoid = hasattr(self.model, "logit_bias")
        self.default_threshold = SIGLIP_THRESHOLD if self.sigmoid else CLIP_THRESHOLD
        text_config = getattr(self.model.config, "text_config", None)
        self.max_length: int | None = getattr(text_config, "max_position_embeddings", None)
        super().__init__(threshold)

    def preprocess(self, image: DecodedImage, expressions: list[VisualExpression]) -> Any:
        texts = [fill(self.template, e) for e in expressions]
        return self.processor(
            text=texts,
            images=image.image,
            return_tensors="pt",
            # SigLIP was trained on texts padded to the full length; CLIP pads to the longest.
            padding="max_length" if self.sigmoid else True,
            truncation=True,
            max_length=self.max_length,
        )

    def _forward(self, inputs: Any) -> list[float]:
        dtype = self.model.dtype
        batch = {
            k: (v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device)) for k, v in inputs.items()
        }
        outputs = self.model(**batch)
        if self.sigmoid:
            scores = self.torch.sigmoid(outputs.logits_per_image[0].float())
        else:
            image = outputs.image_embeds.float()
            text = outputs.text_embeds.float()
            image = image / image.norm(dim=-1, keepdim=True)
            text = text / text.norm(dim=-1, keepdim=True)
            scores = (text @ image[0]).clamp(-1.0, 1.0)
        return [float(s) for s in scores.cpu()]
