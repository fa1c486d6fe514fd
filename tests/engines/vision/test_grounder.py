"""The decisions of the embedded grounding (`engines.vision.grounder.decide`) on hand-made evidence: the rules
without the detector (the real-weights tests are in tests/services/vg/test_vg_detector.py)."""

from __future__ import annotations

from engines.vision.detector import Detection
from engines.vision.grounder import GroundingConfig, decide, wants_text
from engines.vision.ocr import OCRConfig, TextHit, normalize
from shared.protocol.visual import VisualExpression

SIZE = (1000, 600)
BIG_LEFT = Detection("person", 0.6, (50.0, 50.0, 450.0, 600.0))
BIG_RIGHT = Detection("person", 0.5, (550.0, 60.0, 950.0, 600.0))
SMALL_RIGHT = Detection("person", 0.4, (800.0, 300.0, 900.0, 550.0))
DOG = Detection("dog", 0.45, (600.0, 300.0, 900.0, 580.0))


def expr(entity: str, type_: str = "PER", description: str = "a person") -> VisualExpression:
    return VisualExpression(entity=entity, type=type_, expression=f"{entity} ({type_}) – {description}")  # type: ignore[arg-type]


def find(name: str, hits: list[TextHit]) -> tuple[TextHit, float] | None:
    """Exact OCR matching, as `TextReader.find` does for a clean line (no model needed here)."""
    min_chars = OCRConfig().min_name_chars
    for hit in hits:
        if len(normalize(name)) >= min_chars and normalize(name) in normalize(hit.text):
            return hit, hit.score
    return None


def boxes(decisions: list) -> list:
    return [d.box for d in decisions]


def test_a_pet_typed_per_takes_the_dog_not_the_person() -> None:
    [bruno] = decide(
        SIZE, [BIG_LEFT, DOG], [], find, [expr("Bruno", "PER", "a golden retriever")], None, GroundingConfig()
    )
    assert bruno.box == DOG.box and bruno.rule == "class:dog"


def test_a_name_the_post_places_elsewhere_gets_no_box() -> None:
    text = "Dog sitting for Jess this week, Bruno is the goodest boy"
    expressions = [expr("Jess"), expr("Bruno", "PER", "a golden retriever")]
    jess, bruno = decide(SIZE, [SMALL_RIGHT, DOG], [], find, expressions, text, GroundingConfig())
    assert jess.box is None and jess.rule == "absent:for" and not jess.has_region
    assert bruno.box == DOG.box
    # Without the text, or with the rule turned off, Jess takes the person.
    [jess] = decide(SIZE, [SMALL_RIGHT, DOG], [], find, [expr("Jess")], None, GroundingConfig())
    assert jess.box == SMALL_RIGHT.box
    [jess] = decide(SIZE, [SMALL_RIGHT, DOG], [], find, [expr("Jess")], text, GroundingConfig(absence_rules=[]))
    assert jess.box == SMALL_RIGHT.box


def test_a_name_written_near_a_person_beats_order_of_mention() -> None:
    tag = TextHit("KIM", 0.9, (600.0, 560.0, 700.0, 590.0))  # on the right person's shirt
    expressions = [expr("Kim"), expr("Jess")]
    kim, jess = decide(SIZE, [BIG_LEFT, BIG_RIGHT], [tag], find, expressions, "Kim and Jess", GroundingConfig())
    assert (kim.box, kim.rule) == (BIG_RIGHT.box, "person:ocr")
    assert jess.box == BIG_LEFT.box and not jess.ambiguous


def test_position_in_the_text_and_the_person_in_focus() -> None:
    expressions = [expr("Mae Jemison"), expr("Eileen Collins")]
    text = "Mae Jemison ( left ) and Eileen Collins"
    mae, eileen = decide(SIZE, [SMALL_RIGHT, BIG_LEFT], [], find, expressions, text, GroundingConfig())
    assert mae.box == BIG_LEFT.box and eileen.box == SMALL_RIGHT.box
    # No cue: the first-mentioned name takes the person in focus (4x larger), wherever they stand.
    first, second = decide(SIZE, [SMALL_RIGHT, BIG_LEFT], [], find, expressions, "Mae and Eileen", GroundingConfig())
    assert first.box == BIG_LEFT.box and second.box == SMALL_RIGHT.box


def test_two_alike_people_and_two_names_are_ambiguous() -> None:
    expressions = [expr("Kim"), expr("Jess")]
    kim, jess = decide(SIZE, [BIG_RIGHT, BIG_LEFT], [], find, expressions, "Kim and Jess", GroundingConfig())
    assert kim.ambiguous and jess.ambiguous
    assert (kim.box, jess.box) == (BIG_LEFT.box, BIG_RIGHT.box)  # the guess: mention order left to right
    assert set(kim.candidates) == {BIG_LEFT.box, BIG_RIGHT.box}
    config = GroundingConfig(ambiguous="abstain")
    kim, jess = decide(SIZE, [BIG_RIGHT, BIG_LEFT], [], find, expressions, "Kim and Jess", config)
    assert kim.box is None and jess.box is None and kim.has_region and len(kim.candidates) == 2


def test_one_person_and_two_names_goes_to_the_first_mentioned() -> None:
    expressions = [expr("Pam Melroy"), expr("Eileen Collins")]
    pam, eileen = decide(SIZE, [BIG_LEFT], [], find, expressions, "Eileen Collins and Pam Melroy", GroundingConfig())
    assert eileen.box == BIG_LEFT.box and pam.box is None


def test_main_subject_fallback_for_an_animal_with_nothing_detected() -> None:
    squirrel = [expr("Nutkin", "PER", "a red squirrel")]
    [d] = decide(SIZE, [], [], find, squirrel, None, GroundingConfig())
    assert d.box == (0.0, 0.0, 1000.0, 600.0) and d.rule == "subject"
    [d] = decide(SIZE, [], [], find, squirrel, None, GroundingConfig(subject_fallback="off"))
    assert d.box is None
    # A detected animal of another class is the squirrel (the detector's nearest class).
    [d] = decide(SIZE, [DOG], [], find, squirrel, None, GroundingConfig())
    assert d.box == DOG.box


def test_ocr_is_wanted_only_where_it_can_change_a_decision() -> None:
    assert not wants_text([expr("Bruno", "PER", "a dog")], [DOG])
    assert wants_text([expr("Rolex", "ORG", "a Swiss watchmaker")], [DOG])
    assert wants_text([expr("Kim")], [BIG_LEFT, BIG_RIGHT])
    assert not wants_text([expr("Kim")], [BIG_LEFT])


def test_the_post_naming_the_animal_beats_a_wrong_description() -> None:
    # The small LLM's guess about a name it has never seen, against what the post says next to the name.
    expressions = [expr("Reginald", "PER", "Reginald is an American actor")]
    [d] = decide(SIZE, [BIG_LEFT, DOG], [], find, expressions, "Reginald the capybara at the zoo", GroundingConfig())
    assert d.box == DOG.box  # no capybara class: the animal CenterNet saw


def test_a_band_beside_named_people_gets_no_box() -> None:
    expressions = [expr("Nils", "PER", "a young man"), expr("Depeche Mode", "PER", "a band from England")]
    nils, band = decide(
        SIZE, [BIG_LEFT, SMALL_RIGHT], [], find, expressions, "Nils, a Depeche Mode fan", GroundingConfig()
    )
    assert nils.box == BIG_LEFT.box and band.box is None and band.rule == "none:group-with-names"
