"""One decision per referring expression from one image's evidence: the box (or none), its score, and why.

VE and VG both call `decide` on the same evidence, so the two stages cannot disagree about an entity: VE answers
"is there a decision with a region", VG answers the region.

For each expression (`engines.vision.class_match.target`):
- LOC, and heads that are never an object (a company, a race, a festival): only a name written in the image
  (OCR) gives a region.
- An object or an animal: the best detection of its class; an animal with no COCO class takes the best animal
  detection (the detector labels a squirrel as the nearest class it knows); then the name written in the
  image; then, for animals and artworks, the photo's main subject (`subject_fallback`).
- A person: first the post's text may place the name elsewhere (`engines.vision.post_cues.placed_elsewhere`):
  no region. The people left share the detected persons (`assign_people`).

Several people, several names, strongest evidence first: a name written near a person (OCR); a position in
the text ("(left)", "on the right", "L-R:"); the person in focus (the first-mentioned name takes a person at
least `focus_ratio` times larger than every other); a single name and a single person left. When none of these
decides, the decision is ambiguous: `ambiguous="guess"` gives order of mention left to right (largest persons
first), with the candidates; `"abstain"` gives no box, only the candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engines.vision.boxes import Box, box_area
from engines.vision.class_match import ANIMAL_CLASSES, PERSON, Target, target, word_target
from engines.vision.detector import Detection
from engines.vision.expressions import description_of
from engines.vision.ocr import TextHit
from engines.vision.post_cues import (
    apposition,
    left_to_right,
    mention_order,
    placed_elsewhere,
    side_in,
    side_of,
)
from shared.protocol.common import EntityType
from shared.protocol.visual import VisualExpression

FindWritten = Callable[[str, list[TextHit]], tuple[TextHit, float] | None]
ABSENCE_RULES = ("for", "owner", "friend", "miss", "would", "quoted", "thanks")


class GroundingConfig(BaseModel):
    """Env: `GMNER_VE_GROUNDING__<FIELD>` / `GMNER_VG_GROUNDING__<FIELD>` (set both the same way)."""

    model_config = ConfigDict(extra="forbid")

    absence_rules: list[str] = Field(
        default_factory=lambda: list(ABSENCE_RULES),
        description="The `post_cues` rules that may place a named person outside the photo (they read the post's "
        "`text`): for, owner, friend, miss, would, quoted, thanks.",
    )
    ambiguous: Literal["guess", "abstain"] = Field(
        default="guess",
        description="Several candidates and nothing to tell them apart: guess (order of mention, left to right; "
        "the answer lists `candidate_boxes`) or abstain (no box, the candidates only). Guess measured better.",
    )
    focus_ratio: float = Field(
        default=2.0,
        ge=1.0,
        description="The first-mentioned name takes a person at least this many times larger (area) than any other.",
    )
    min_person_share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Persons smaller than this share of the largest person's area are passers-by, not candidates.",
    )
    subject_fallback: Literal["off", "frame", "largest"] = Field(
        default="frame",
        description="An entity of `subject_kinds` that no detection matches: the photo's main subject is its "
        "region (frame: the whole image; largest: the largest detection covering `subject_min_share` of the "
        "image, else the whole image), or nothing (off).",
    )
    subject_kinds: list[str] = Field(
        default_factory=lambda: ["animal", "artwork", "landmark"],
        description="The kinds of entity (animal, artwork, landmark, vehicle, object) the main-subject fallback "
        "applies to.",
    )
    subject_min_share: float = Field(
        default=0.25, ge=0.0, le=1.0, description="`largest`: the share of the image a detection must cover."
    )
    subject_score: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="The score of a main-subject region (above VE's default threshold 0.2: it makes the entity "
        "groundable).",
    )


@dataclass(frozen=True)
class Decision:
    box: Box | None
    score: float
    # How it was decided: "class:dog", "ocr", "person:ocr", "absent:for", "subject", "none" ...
    rule: str
    candidates: tuple[Box, ...] = ()
    ambiguous: bool = False

    @property
    def has_region(self) -> bool:
        return self.box is not None or bool(self.candidates)


NONE = Decision(None, 0.0, "none")


def _key(name: str) -> str:
    return " ".join(name.casefold().split())


def _goal(expression: VisualExpression, post_text: str | None) -> Target:
    """What to look for: what the post itself calls the entity ("Reginald the capybara"), when the lexicon knows
    that word as something in view, else what its expression says (`class_match.target`)."""
    if expression.type is not EntityType.LOC:
        word = apposition(expression.entity, post_text)
        said = word_target(word) if word else None
        if said is not None:
            return said
    return target(expression)


def wants_text(expressions: list[VisualExpression], detections: list[Detection]) -> bool:
    """Whether the image's text (OCR) can change a decision: a non-person with no matching detection, or
    several people to tell apart."""
    persons = sum(d.label == PERSON for d in detections)
    for expression in expressions:
        goal = target(expression)
        if goal.is_person:
            if expression.type is EntityType.PER and not goal.is_group and persons >= 2:
                return True
        elif not _matches(goal, detections):
            return True
    return False


def _matches(goal: Target, detections: list[Detection]) -> list[Detection]:
    """Detections of the goal's classes, best first. An animal: else any animal detection (CenterNet often calls a
    cat a dog, and has no class at all for a squirrel or a quokka)."""
    found = [d for d in detections if d.label in goal.classes]
    if not found and goal.kind == "animal":
        found = [d for d in detections if d.label in ANIMAL_CLASSES]
    return sorted(found, key=lambda d: -d.score)


def containing(box: Box, detections: list[Detection]) -> Detection | None:
    """The smallest detection whose box contains the centre of `box` (a logo on a shirt -> the person)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    inside = [d for d in detections if d.box[0] <= cx <= d.box[2] and d.box[1] <= cy <= d.box[3]]
    return min(inside, key=lambda d: box_area(d.box)) if inside else None


def decide(
    size: tuple[int, int],
    detections: list[Detection],
    text_hits: list[TextHit],
    find_written: FindWritten,
    expressions: list[VisualExpression],
    post_text: str | None,
    config: GroundingConfig,
) -> list[Decision]:
    width, height = size
    decisions: list[Decision | None] = []
    people: list[int] = []
    goals = [_goal(e, post_text) for e in expressions]
    names_people = any(
        g.is_person and not g.is_group and e.type is EntityType.PER for e, g in zip(expressions, goals, strict=True)
    )
    for i, (expression, goal) in enumerate(zip(expressions, goals, strict=True)):
        if expression.type is EntityType.PER:
            rule = placed_elsewhere(expression.entity, post_text)
            if rule is not None and rule in config.absence_rules:
                decisions.append(Decision(None, 0.0, f"absent:{rule}"))
                continue
        if goal.is_person and not goal.is_group and expression.type is EntityType.PER:
            decisions.append(None)
            people.append(i)
            continue
        if goal.is_person and names_people:
            # A team, band or club beside named people: the photo shows those people, not "the team".
            decisions.append(Decision(None, 0.0, "none:group-with-names"))
            continue
        decisions.append(_thing(goal, expression, detections, text_hits, find_written, (width, height), config))
    if people:
        persons = [d for d in detections if d.label == PERSON]
        assigned = assign_people(persons, [expressions[i] for i in people], text_hits, find_written, post_text, config)
        for i, decision in zip(people, assigned, strict=True):
            decisions[i] = decision
    return [d or NONE for d in decisions]


def _thing(
    goal: Target,
    expression: VisualExpression,
    detections: list[Detection],
    text_hits: list[TextHit],
    find_written: FindWritten,
    size: tuple[int, int],
    config: GroundingConfig,
) -> Decision:
    matched = _matches(goal, detections) if goal.classes else []
    found = find_written(expression.entity, text_hits) if text_hits else None
    if matched and (found is None or matched[0].score >= found[1]):
        return Decision(matched[0].box, matched[0].score, f"class:{matched[0].label}")
    if found is not None:
        holder = containing(found[0].box, detections)
        return Decision(holder.box if holder else found[0].box, found[1], "ocr")
    if goal.kind in config.subject_kinds and config.subject_fallback != "off":
        return Decision(_main_subject(detections, size, config), config.subject_score, "subject")
    return Decision(None, 0.0, f"none:{goal.rule}")


def _main_subject(detections: list[Detection], size: tuple[int, int], config: GroundingConfig) -> Box:
    width, height = size
    frame: Box = (0.0, 0.0, float(width), float(height))
    if config.subject_fallback == "largest" and detections:
        largest = max(detections, key=lambda d: box_area(d.box))
        if box_area(largest.box) >= config.subject_min_share * width * height:
            return largest.box
    return frame


def _centre_x(box: Box) -> float:
    return (box[0] + box[2]) / 2


def _near(text_box: Box, person: Box) -> float:
    """How well a text line sits on or next to a person (a name tag, a jersey, a caption under them): the
    horizontal overlap share of the text, 0 when the text is far above or below. Higher is nearer."""
    overlap = max(0.0, min(text_box[2], person[2]) - max(text_box[0], person[0]))
    share = overlap / max(1.0, text_box[2] - text_box[0])
    person_h = person[3] - person[1]
    gap = max(0.0, text_box[1] - person[3], person[1] - text_box[3])
    if gap > 0.3 * person_h:
        return 0.0
    return share * (1.0 - gap / max(1.0, 0.3 * person_h) * 0.5)


def assign_people(
    persons: list[Detection],
    expressions: list[VisualExpression],
    text_hits: list[TextHit],
    find_written: FindWritten,
    post_text: str | None,
    config: GroundingConfig,
) -> list[Decision]:
    """The decision of each PER expression whose entity is a person (the module docstring's order)."""
    largest = max((box_area(p.box) for p in persons), default=0.0)
    free = sorted(
        (p for p in persons if box_area(p.box) >= config.min_person_share * largest), key=lambda p: -box_area(p.box)
    )
    names: list[str] = []
    for expression in expressions:
        if _key(expression.entity) not in [_key(n) for n in names]:
            names.append(expression.entity)
    order = mention_order(names, post_text)
    described = {_key(e.entity): description_of(e) for e in reversed(expressions)}
    chosen: dict[str, Decision] = {}

    def take(name: str, person: Detection, rule: str) -> None:
        chosen[_key(name)] = Decision(person.box, person.score, rule)
        free.remove(person)

    # 1. A name written on or next to a person.
    if text_hits:
        for name in names:
            hit = find_written(name, text_hits) or next(
                (f for w in name.split() if len(w) >= 4 and (f := find_written(w, text_hits)) is not None), None
            )
            if hit is None or not free:
                continue
            best = max(free, key=lambda p: _near(hit[0].box, p.box))
            if _near(hit[0].box, best.box) > 0:
                take(name, best, "person:ocr")
    # 2. Where the post or the expression puts a name.
    for name in names:
        side = side_of(name, post_text) or side_in(described[_key(name)])
        if side is None or _key(name) in chosen or len(free) < 2:
            continue
        prominent = sorted(free[: max(2, len(order))], key=lambda p: _centre_x(p.box))
        person = {"left": prominent[0], "right": prominent[-1], "centre": prominent[len(prominent) // 2]}[side]
        take(name, person, f"person:text-{side}")
    waiting = [n for n in order if _key(n) not in chosen]
    if left_to_right(post_text) and free:
        ranked = sorted(free[: len(waiting)], key=lambda p: _centre_x(p.box))
        for name, person in zip(waiting, ranked, strict=False):
            if name in names:
                take(name, person, "person:text-l-r")
        waiting = []
    # 3. The person in focus goes to the first-mentioned name still waiting.
    in_focus = len(free) == 1 or (len(free) > 1 and box_area(free[0].box) >= config.focus_ratio * box_area(free[1].box))
    if waiting and in_focus:
        first = waiting[0]
        if first in names:
            take(first, free[0], "person:focus" if len(free) > 1 else "person:only")
        else:
            free.pop(0)  # someone the tagger missed, or the poster, is the one in focus
        waiting = waiting[1:]
    # 4. What is left: by elimination, else ambiguous.
    real = [n for n in waiting if n in names]
    if real and free:
        if len(free) == 1:
            # By elimination: the one person left is the first-mentioned name still waiting.
            if waiting[0] in names:
                take(waiting[0], free[0], "person:only")
        else:
            candidates = tuple(p.box for p in free)
            ranked = sorted(free[: len(waiting)], key=lambda p: _centre_x(p.box))
            for name, person in zip(waiting, ranked, strict=False):
                if name not in names:
                    continue
                if config.ambiguous == "guess":
                    chosen[_key(name)] = Decision(person.box, person.score, "person:guess", candidates, True)
                else:
                    score = max(p.score for p in free)
                    chosen[_key(name)] = Decision(None, score, "person:ambiguous", candidates, True)
    return [chosen.get(_key(e.entity), Decision(None, 0.0, "person:none")) for e in expressions]
