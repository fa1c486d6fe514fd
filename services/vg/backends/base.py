"""The VG backend base: a `VisualPipeline` whose `_forward` gives one `(box, score)` per expression, the box
`(x1, y1, x2, y2)` in original-image pixels or None, and whose `postprocess` clips boxes to the image and drops
empty ones and those scoring under `min_score`. I/O-bound backends (the VLM) are `VisualBackend`s
implementing `run`, with the same rule (`to_grounding`)."""

from __future__ import annotations

from typing import Generic, TypeVar

from engines.vision.boxes import Box, clip_box, is_degenerate, round_box
from engines.vision.pipeline import VisualBackend, VisualPipeline
from shared.images import DecodedImage
from shared.protocol.visual import Grounding, VisualExpression

InputT = TypeVar("InputT")
Scored = tuple[Box | None, float]

# What the VG serving class calls: every VG backend is one.
VGBackend = VisualBackend[list[VisualExpression], list[Grounding]]


class VGPipeline(VisualPipeline[list[VisualExpression], InputT, list[Scored], list[Grounding]], Generic[InputT]):
    def __init__(self, min_score: float = 0.0) -> None:
        super().__init__()
        self.min_score = min_score

    def postprocess(self, outputs: list[Scored], image: DecodedImage) -> list[Grounding]:
        return [to_grounding(box, score, image.width, image.height, self.min_score) for box, score in outputs]


def to_grounding(box: Box | None, score: float, width: int, height: int, min_score: float = 0.0) -> Grounding:
    score = round(float(score), 4)
    if box is None or score < min_score:
        return Grounding(box=None, score=score)
    clipped = clip_box(box, width, height)
    if is_degenerate(clipped):
        return Grounding(box=None, score=0.0)
    return Grounding(box=round_box(clipped), score=score)
