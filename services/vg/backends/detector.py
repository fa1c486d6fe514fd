"""The embedded default: boxes from the bundled COCO-80 detector, OCR where it can help, and the post's text
when the client sends it, decided by `engines.vision.grounder.decide` (the same decisions VE makes).

What to look for comes from the expression's description (`engines.vision.class_match`): "Bruno (PER) – a
golden retriever" is grounded to the dog, "Yamaha (ORG) – a Japanese motorcycle maker" to the motorcycle in
view, "Kentucky Derby (MISC) – a horse race" to nothing. Persons: a name the post places elsewhere gets no
box; several names share the detected people by a name written near a person, a position in the text, the
person in focus, then order of mention left to right as a guess, reported with `candidate_boxes` (or no box
with `grounding.ambiguous = "abstain"`). Animals and artworks no class matches: the photo's main subject.
"""

from __future__ import annotations

from engines.vision.boxes import clip_box, is_degenerate, round_box
from engines.vision.detector import DetectorConfig, DetectorWorker
from engines.vision.evidence import VisualEvidence
from engines.vision.evidence_cache import EvidenceCache
from engines.vision.grounder import Decision, GroundingConfig, decide
from engines.vision.ocr import OCRConfig, TextReader
from engines.vision.pipeline import PassesInputs, PostInputs, VisualPipeline
from shared.images import DecodedImage
from shared.protocol.visual import Grounding, VisualExpression

Inputs = PostInputs[list[VisualExpression]]


class DetectorVGBackend(
    PassesInputs[list[VisualExpression]],
    VisualPipeline[list[VisualExpression], Inputs, list[Decision], list[Grounding]],
):
    name = "detector"

    def __init__(
        self,
        config: DetectorConfig | None = None,
        ocr: OCRConfig | None = None,
        *,
        min_score: float = 0.0,
        grounding: GroundingConfig | None = None,
        worker: DetectorWorker | None = None,
        reader: TextReader | None = None,
        cache: EvidenceCache | None = None,
    ) -> None:
        super().__init__()
        self.min_score = min_score
        self.evidence = VisualEvidence(config, ocr, worker=worker, reader=reader, cache=cache)
        self.grounding = grounding or GroundingConfig()

    def _forward(self, inputs: Inputs) -> list[Decision]:
        image, expressions, text = inputs
        detections, hits = self.evidence.gather(image, expressions)
        return decide(
            (image.width, image.height), detections, hits, self.evidence.find_written, expressions, text, self.grounding
        )

    def postprocess(self, outputs: list[Decision], image: DecodedImage) -> list[Grounding]:
        results = []
        for decision in outputs:
            score = round(float(decision.score), 4)
            candidates = [
                round_box(c)
                for c in (clip_box(b, image.width, image.height) for b in decision.candidates)
                if not is_degenerate(c)
            ]
            box = None
            if decision.box is not None and score >= self.min_score:
                clipped = clip_box(decision.box, image.width, image.height)
                box = None if is_degenerate(clipped) else round_box(clipped)
            results.append(Grounding(box=box, score=score, candidate_boxes=candidates or None))
        return results

    async def ready(self) -> str:
        return self.evidence.ready()

    async def aclose(self) -> None:
        self.evidence.close()
