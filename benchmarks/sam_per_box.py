"""Benchmark fixture: SAM encoding the image again for every box, to measure what one embedding per image saves.

`PerBoxPredictor` is the serving backend with that one change: bench_sam.py runs it in its own process. For
the whole stack, bench_smner.py starts the SAM app with `benchmarks/sam_per_box_site` on its PYTHONPATH, whose
`sitecustomize` swaps the method in (`install`) in that process only. The service itself always reuses.
"""

from __future__ import annotations

from pathlib import Path

import torch

from services.sam.backends.predictor import PredictorBackend, SamInputs, SamOutputs

SITE_DIR = Path(__file__).with_name("sam_per_box_site")


def forward_per_box(self: PredictorBackend, inputs: SamInputs) -> SamOutputs:
    """`PredictorBackend._forward` with one encoder run per box and no embedding cache."""
    size = (inputs.image.height, inputs.image.width)
    parts = [self.decode(self.encode_image(inputs.image), box[None]) for box in inputs.boxes]
    return SamOutputs(
        low_res=torch.cat([p[0] for p in parts]) if parts else torch.empty(0, 1, 1),
        scores=torch.cat([p[1] for p in parts]) if parts else torch.empty(0),
        input_size=self.transform.get_preprocess_shape(size[0], size[1], self.image_size),
        original_size=size,
        cached=False,
    )


class PerBoxPredictor(PredictorBackend):
    _forward = forward_per_box


def install() -> None:
    PredictorBackend._forward = forward_per_box  # type: ignore[method-assign]
