"""VE from the same evidence and the same decisions as the VG `detector` backend (the bundled COCO-80 detector,
OCR where it can help, and the post's text when the client sends it): `engines.vision.grounder.decide`.

What an expression's entity is comes from its description (`engines.vision.class_match`: "Bruno (PER) – a
golden retriever" is looked for as a dog), the NER type only as a prior. The score of an expression is the
confidence of what decided its region: the detection's (CenterNet's confidence), the OCR line's (confidence x
spelling ratio), or the main-subject fallback's fixed score; so scores of all types are on one scale.
`groundable = score >= threshold`: default 0.2, the best of 0.2 / 0.3 / 0.4 on benchmarks/photos (first 26
posts, GMNER F1 89.1 / 85.5 / 78.2) and the worker's own floor, i.e. any decided region counts. A name the post
places elsewhere ("dog sitting for Jess") has no region. Without a region, the per-type prior is the score,
capped just under the threshold: the fallback never makes an entity groundable by itself.
"""

from __future__ import annotations

from engines.vision.detector import DetectorConfig, DetectorWorker
from engines.vision.evidence import VisualEvidence
from engines.vision.evidence_cache import EvidenceCache
from engines.vision.grounder import GroundingConfig, decide
from engines.vision.ocr import OCRConfig, TextReader
from engines.vision.pipeline import PassesInputs, PostInputs
from services.ve.backends.base import VEPipeline
from shared.protocol.common import EntityType
from shared.protocol.visual import VisualExpression

Inputs = PostInputs[list[VisualExpression]]


class DetectorVEBackend(PassesInputs[list[VisualExpression]], VEPipeline[Inputs]):
    name = "detector"
    default_threshold = 0.2

    def __init__(
        self,
        config: DetectorConfig | None = None,
        priors: dict[EntityType, float] | None = None,
        ocr: OCRConfig | None = None,
        *,
        threshold: float | None = None,
        grounding: GroundingConfig | None = None,
        worker: DetectorWorker | None = None,
        reader: TextReader | None = None,
        cache: EvidenceCache | None = None,
    ) -> None:
        super().__init__(threshold)
        self.evidence = VisualEvidence(config, ocr, worker=worker, reader=reader, cache=cache)
        self.grounding = grounding or GroundingConfig()
        self.priors = dict(priors or {})

    def _forward(self, inputs: Inputs) -> list[float]:
        image, expressions, text = inputs
        detections, hits = self.evidence.gather(image, expressions)
        decisions = decide(
            (image.width, image.height), detections, hits, self.evidence.find_written, expressions, text, self.grounding
        )
        cap = max(0.0, self.threshold - 0.01)
        return [
            d.score if d.has_region else min(self.priors.get(e.type, 0.0), cap)
            for e, d in zip(expressions, decisions, strict=True)
        ]

    async def ready(self) -> str:
        return self.evidence.ready()

    async def aclose(self) -> None:
        self.evidence.close()
