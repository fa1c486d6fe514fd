"""The VE backend base: a `VisualPipeline` whose `_forward` gives one score per expression and whose
`postprocess` applies the threshold. I/O-bound backends (the VLM) are `VisualBackend`s implementing `run`,
with the same threshold (`entailments`)."""

from __future__ import annotations

from typing import Generic, TypeVar

from engines.vision.pipeline import VisualBackend, VisualPipeline
from shared.images import DecodedImage
from shared.protocol.visual import Entailment, VisualExpression

InputT = TypeVar("InputT")

# What the VE serving class calls: every VE backend is one.
VEBackend = VisualBackend[list[VisualExpression], list[Entailment]]


def entailments(scores: list[float], threshold: float) -> list[Entailment]:
    return [Entailment(groundable=score >= threshold, score=round(float(score), 4)) for score in scores]


class VEPipeline(VisualPipeline[list[VisualExpression], InputT, list[float], list[Entailment]], Generic[InputT]):
    # The threshold used when the settings leave it null.
    default_threshold: float = 0.5

    def __init__(self, threshold: float | None = None) -> None:
        super().__init__()
        self.threshold = self.default_threshold if threshold is None else threshold

    def postprocess(self, outputs: list[float], image: DecodedImage) -> list[Entailment]:
        return entailments(outputs, self.threshold)
