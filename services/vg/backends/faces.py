"""The embedded default: PER entities get the box of a detected person; other types get none.

Assignment (documented, deterministic): people are ranked by `rank_people` (faces first, largest face
first). Distinct PER entities, in order of first appearance in the request (names compared
case-insensitively, so a repeated name gets the same box), take people in that rank order: the first PER
entity gets the largest face, the second the next one, and so on. When there are more PER entities than
people, the extra ones get the largest person again (`faces_extra_per="largest"`) or null (`"none"`).
A face becomes a person box by `PersonBoxRule` (a body box is used instead when the Haar body cascade
found one around that face). The score is the person's detection score.
Non-PER entities get null, or the whole image with score 0 (`faces_non_per="image"`).
"""

from __future__ import annotations

from engines.vision.faces import FaceDetectorConfig, Person, PersonBoxRule, PersonDetector
from engines.vision.pipeline import PassesInputs, PostInputs
from services.vg.backends.base import Scored, VGPipeline
from shared.protocol.common import EntityType
from shared.protocol.visual import VisualExpression


class FacesVGBackend(PassesInputs[list[VisualExpression]], VGPipeline[PostInputs[list[VisualExpression]]]):
    name = "faces"

    def __init__(
        self,
        config: FaceDetectorConfig | None = None,
        rule: PersonBoxRule | None = None,
        *,
        extra_per: str = "largest",
        non_per: str = "none",
        min_score: float = 0.0,
        device: str = "cpu",
        detector: PersonDetector | None = None,
    ) -> None:
        super().__init__(min_score)
        self.detector = detector or PersonDetector(config, device=device)
        self.rule = rule or PersonBoxRule()
        self.extra_per = extra_per
        self.non_per = non_per

    def _forward(self, inputs: PostInputs[list[VisualExpression]]) -> list[Scored]:
        image, expressions, _text = inputs
        needs_people = any(e.type is EntityType.PER for e in expressions)
        people = self.detector.detect(image) if needs_people else []
        assigned = assign_people(people, expressions, self.extra_per)
        outputs: list[Scored] = []
        for expression, person in zip(expressions, assigned, strict=True):
            if expression.type is not EntityType.PER:
                whole = (0.0, 0.0, float(image.width), float(image.height))
                outputs.append((whole, 0.0) if self.non_per == "image" else (None, 0.0))
            elif person is None:
                outputs.append((None, 0.0))
            else:
                outputs.append((person.person_box(image.width, image.height, self.rule), person.score))
        return outputs


def assign_people(people: list[Person], expressions: list[VisualExpression], extra_per: str) -> list[Person | None]:
    """The person of each expression (None for non-PER ones), by the rule in the module docstring."""
    ranks: dict[str, int] = {}
    assigned: list[Person | None] = []
    for expression in expressions:
        if expression.type is not EntityType.PER:
            assigned.append(None)
            continue
        key = " ".join(expression.entity.casefold().split())
        rank = ranks.setdefault(key, len(ranks))
        if rank < len(people):
            assigned.append(people[rank])
        elif people and extra_per == "largest":
            assigned.append(people[0])
        else:
            assigned.append(None)
    return assigned
