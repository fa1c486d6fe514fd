"""The embedded default: boxes from the bundled COCO-80 detector, matched to each expression's classes.

Matching (`shared.vision.detector.matching_classes`): PER is `person`; other types match the COCO classes
their name or description names (a small word map: "motorcycle", "Yamaha" -> motorcycle, "team" ->
person, ...). The box is the best-scoring detection of a matched class; none when nothing matches.

Several people, several names: the distinct PER names (in order of first mention) take the largest person
detections, as many as there are names; those people are then handed out left to right in order of
mention (captions name people left to right far more often than not). An extra PER name with no person
left gets no box. It cannot know who is who when the caption does not follow left-to-right order.

OCR (`shared.vision.ocr`): a non-PER entity with no matching detection whose name is written in the image
gets the box of the detected object containing the text, else the text region itself.
"""

from __future__ import annotations

from services.vg.backends.base import Scored, VGPipeline
from shared.images import DecodedImage
from shared.protocol.common import EntityType
from shared.protocol.visual import VisualExpression
from shared.vision.boxes import box_area
from shared.vision.detector import Detection, DetectorConfig, DetectorWorker, containing, detections_for
from shared.vision.evidence import VisualEvidence
from shared.vision.ocr import OCRConfig, TextReader


class DetectorVGBackend(VGPipeline[tuple[DecodedImage, list[VisualExpression]]]):
    name = "detector"

    def __init__(
        self,
        config: DetectorConfig | None = None,
        ocr: OCRConfig | None = None,
        *,
        min_score: float = 0.0,
        worker: DetectorWorker | None = None,
        reader: TextReader | None = None,
    ) -> None:
        super().__init__(min_score)
        self.evidence = VisualEvidence(config, ocr, worker=worker, reader=reader)

    def preprocess(
        self, image: DecodedImage, expressions: list[VisualExpression]
    ) -> tuple[DecodedImage, list[VisualExpression]]:
        return image, expressions

    def _forward(self, inputs: tuple[DecodedImage, list[VisualExpression]]) -> list[Scored]:
        image, expressions = inputs
        detections, text = self.evidence.gather(image, expressions)
        people = assign_people([d for d in detections if d.label == "person"], expressions)
        outputs: list[Scored] = []
        for expression, person in zip(expressions, people, strict=True):
            if expression.type is EntityType.PER:
                outputs.append((person.box, person.score) if person else (None, 0.0))
                continue
            matched = detections_for(expression, detections)
            found = None if matched else self.evidence.find_written(expression.entity, text)
            if matched:
                outputs.append((matched[0].box, matched[0].score))
            elif found is not None:
                holder = containing(found[0].box, detections)
                outputs.append((holder.box if holder else found[0].box, found[1]))
            else:
                outputs.append((None, 0.0))
        return outputs

    async def ready(self) -> str:
        return self.evidence.ready()

    async def aclose(self) -> None:
        self.evidence.close()


def assign_people(people: list[Detection], expressions: list[VisualExpression]) -> list[Detection | None]:
    """The person of each PER expression (None otherwise), by the rule in the module docstring."""
    names: list[str] = []
    for expression in expressions:
        key = " ".join(expression.entity.casefold().split())
        if expression.type is EntityType.PER and key not in names:
            names.append(key)
    chosen = sorted(people, key=lambda d: -box_area(d.box))[: len(names)]
    chosen.sort(key=lambda d: (d.box[0] + d.box[2]) / 2)
    by_name = dict(zip(names, chosen, strict=False))
    return [
        by_name.get(" ".join(e.entity.casefold().split())) if e.type is EntityType.PER else None for e in expressions
    ]
