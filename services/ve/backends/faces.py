"""The embedded default: the bundled person detector for PER, configured priors for the other types.

PER: the score is the best detected person's confidence (MTCNN's face probability, or the fixed Haar
score), 0 when nobody is found. LOC / ORG / MISC: the configured prior for the type, whatever the image
shows (this backend cannot see places, logos or objects). `groundable = score >= threshold` (0.5).
"""

from __future__ import annotations

from engines.vision.faces import FaceDetectorConfig, PersonDetector
from engines.vision.pipeline import PassesInputs, PostInputs
from services.ve.backends.base import VEPipeline
from shared.protocol.common import EntityType
from shared.protocol.visual import VisualExpression


class FacesVEBackend(PassesInputs[list[VisualExpression]], VEPipeline[PostInputs[list[VisualExpression]]]):
    name = "faces"
    default_threshold = 0.5

    def __init__(
        self,
        config: FaceDetectorConfig | None = None,
        priors: dict[EntityType, float] | None = None,
        *,
        threshold: float | None = None,
        device: str = "cpu",
        detector: PersonDetector | None = None,
    ) -> None:
        super().__init__(threshold)
        self.detector = detector or PersonDetector(config, device=device)
        self.priors = dict(priors or {})

    def _forward(self, inputs: PostInputs[list[VisualExpression]]) -> list[float]:
        image, expressions, _text = inputs
        # Only run the detector when some expression is a person.
        needs_people = any(e.type is EntityType.PER for e in expressions)
        people = self.detector.detect(image) if needs_people else []
        best = max((p.score for p in people), default=0.0)
        return [best if e.type is EntityType.PER else self.priors.get(e.type, 0.0) for e in expressions]
