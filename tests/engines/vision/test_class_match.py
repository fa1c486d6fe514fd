"""What a referring expression's description says its entity is, as COCO classes (`engines.vision.class_match`)."""

from __future__ import annotations

import pytest

from engines.vision.class_match import ANIMAL_CLASSES, target
from engines.vision.detector import matching_classes
from shared.protocol.visual import VisualExpression


def expression(entity: str, type_: str, description: str) -> VisualExpression:
    text = f"{entity} ({type_}) – {description}" if description else f"{entity} ({type_})"
    return VisualExpression(entity=entity, type=type_, expression=text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("entity", "type_", "description", "classes"),
    [
        # A pet typed PER by the tagger: the description wins over the type.
        ("Bruno", "PER", "Bruno is a golden retriever dog owned by Jess", ["dog"]),
        ("Bruno", "PER", "a golden retriever", ["dog"]),
        ("Rex", "PER", "the name of a dog", ["dog"]),
        ("Gerald", "PER", "a giraffe at the zoo", ["giraffe"]),
        ("Seabiscuit", "MISC", "a famous racehorse", ["horse"]),
        ("Chelsea", "MISC", "a pet cat", ["cat"]),
        ("Ducati Monster", "MISC", "a motorcycle model", ["motorcycle"]),
        # A person stays a person, whatever the modifiers name ("motorcycle racer" is not a motorcycle).
        ("Valentino Rossi", "PER", "an Italian motorcycle racer", ["person"]),
        ("Jess", "PER", "a friend of the poster", ["person"]),
        ("Jess", "PER", "", ["person"]),
        # A team is its people; a maker is its product in view; a chain or a race is nothing in view.
        ("Barcelona", "ORG", "a football club", ["person"]),
        ("Yamaha", "ORG", "a Japanese motorcycle maker", ["motorcycle"]),
        ("Starbucks", "ORG", "a coffee chain", []),
        ("SpaceX", "ORG", "an American rocket company", []),
        ("Kentucky Derby", "MISC", "a horse race", []),
        ("Garfield", "MISC", "a comic strip cat", []),
        # A place is never an object, even when the description names one.
        ("Ohio", "LOC", "My Yamaha Maxim is a small, light motorcycle.", []),
        # No description: only a brand in the name counts ("Falcon 9" is no bird).
        ("Yamaha Maxim", "MISC", "", ["motorcycle"]),
        ("Falcon 9", "MISC", "", []),
        # The small LLM calling a PER a company or a character does not overrule the tagger.
        ("Lotte", "PER", "Lotte is a Danish company that produces clothing.", ["person"]),
        # A description that first repeats the name, or a sentence about it: what it is comes after.
        ("Hjørring Sharks", "ORG", "the Hjørring Sharks, a professional football team", ["person"]),
        ("Mikkel", "PER", "The Hjørring Sharks 🎱 is a Danish professional football team.", ["person"]),
        ("Bruno", "PER", "Bruno, a golden retriever", ["dog"]),
    ],
)
def test_the_description_decides_the_class(entity: str, type_: str, description: str, classes: list[str]) -> None:
    assert matching_classes(expression(entity, type_, description)) == classes


def test_an_animal_with_no_coco_class_takes_any_animal_and_may_fall_back_to_the_main_subject() -> None:
    squirrel = target(expression("Nutkin", "PER", "a red squirrel"))
    assert squirrel.kind == "animal" and squirrel.classes == ANIMAL_CLASSES
    painting = target(expression("Mona Lisa", "MISC", "a painting by Leonardo da Vinci"))
    assert painting.kind == "artwork" and painting.classes == ()


def test_plurals_and_copulas_are_read() -> None:
    assert matching_classes(expression("The Smiths", "PER", "They are two labradors")) == ["dog"]
    assert matching_classes(expression("Ponies", "MISC", "shetland ponies")) == ["horse"]
