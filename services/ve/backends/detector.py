"""VE from the same evidence as the VG `detector` backend (the bundled COCO-80 detector).

The score of an expression is the confidence of the best detection of a class it matches (PER: person;
see `shared.vision.detector.matching_classes`), so scores of all types are the same quantity: CenterNet's
confidence, on one scale. `groundable = score >= threshold`: default 0.2, the best of 0.2 / 0.3 / 0.4 on
benchmarks/photos (first 26 posts, GMNER F1 89.1 / 85.5 / 78.2) and the worker's own floor, i.e. any matching detection
counts. When no detected class
matches, the per-type prior is the score, capped just under the threshold: the fallback never makes an
entity groundable by itself. OCR: an entity whose name is written in the image scores the OCR confidence x
spelling ratio (`shared.vision.ocr`), when that beats its detection.
"""

from __future__ import annotations

from services.ve.backends.base import VEPipeline
from shared.images import DecodedImage
from shared.protocol.common import EntityType
from shared.protocol.visual import VisualExpression
from shared.vision.detector import DetectorConfig, DetectorWorker, detections_for
from shared.vision.evidence import VisualEvidence
from shared.vision.ocr import OCRConfig, TextReader


class DetectorVEBackend(VEPipeline[tuple[DecodedImage, list[VisualExpression]]]):
    name = "detector"
    default_threshold = 0.2

    def __init__(
        self,
        config: DetectorConfig | None = None,
        priors: dict[EntityType, float] | None = None,
        ocr: OCRConfig | None = None,
        *,
        threshold: float | None = None,
        worker: DetectorWorker | None = None,
        reader: TextReader | None = None,
    ) -> None:
        super().__init__(threshold)
        self.evidence = VisualEvidence(config, ocr, worker=worker, reader=reader)
        self.priors = dict(priors or {})

    def preprocess(
        self, image: DecodedImage, expressions: list[VisualExpression]
    ) -> tuple[DecodedImage, list[VisualExpression]]:
        return image, expressions

    def _forward(self, inputs: tuple[DecodedImage, list[VisualExpression]]) -> list[float]:
        image, expressions = inputs
        detections, text = self.evidence.gather(image, expressions)
        scores = []
        for expression in expressions:
            matched = detections_for(expression, detections)
            found = self.evidence.find_written(expression.entity, text)
            if found is not None and (not matched or found[1] > matched[0].score):
                scores.append(found[1])
                continue
            fallback = min(self.priors.get(expression.type, 0.0), max(0.0, self.threshold - 0.01))
            scores.append(matched[0].score if matched else fallback)
        return scores

    async def ready(self) -> str:
        return self.evidence.ready()

    async def aclose(self) -> None:
        self.evidence.close()
