"""Completing the tagger's entities from the knowledge list (engines/ner/listed_entities.py)."""

from __future__ import annotations

from engines.llm.entity_list import ListedEntity
from engines.ner.listed_entities import complete_with_listed, entity_type_of, is_animal
from shared.protocol.common import Entity, EntityType

POST = "Can't wait to see @mariakrogh live at Roskilde Festival 🎶 #WorldBeeDay"
FESTIVAL = Entity(text="Roskilde Festival", type=EntityType.MISC, start=38, end=55)


def spans(entities: list[Entity]) -> list[tuple[str, str]]:
    return [(e.text, e.type.value) for e in entities]


def test_a_listed_handle_and_hashtag_the_tagger_missed_are_added_at_their_offsets() -> None:
    knowledge = (
        "Named entities: 1. Mariakrogh (person/handle) – a singer 2. Roskilde Festival (event) – a music festival "
        "3. WorldBeeDay (miscellaneous/event) – a day for bees"
    )
    found = complete_with_listed(POST, [FESTIVAL], knowledge)
    assert spans(found) == [("mariakrogh", "PER"), ("Roskilde Festival", "MISC"), ("WorldBeeDay", "MISC")]
    assert all(POST[e.start : e.end] == e.text for e in found)


def test_names_the_post_does_not_spell_or_lower_case_words_add_nothing() -> None:
    knowledge = (
        "Named entities: 1. Maria Berg (person) – a singer 2. live (event) – a concert "
        "3. Denmark (location/country) – a country 4. 1986 (misc/year) – a year 5. She (person) – a friend"
    )
    assert complete_with_listed(POST, [FESTIVAL], knowledge) == [FESTIVAL]


def test_a_handle_matches_the_name_it_spells() -> None:
    found = complete_with_listed(POST, [FESTIVAL], "Named entities: 1. Maria Krogh (person/singer) – a Danish singer")
    assert spans(found)[0] == ("mariakrogh", "PER")


def test_a_listed_name_inside_a_tagged_entity_is_not_added_twice() -> None:
    knowledge = "Named entities: 1. Roskilde (location/city) – a Danish town"
    assert complete_with_listed(POST, [FESTIVAL], knowledge) == [FESTIVAL]


def test_a_tagged_name_the_list_calls_an_animal_becomes_misc() -> None:
    post = "dog sitting for Jess this weekend, Pepper is an absolute angel 🐶"
    tagged = [
        Entity(text="Jess", type=EntityType.PER, start=16, end=20),
        Entity(text="Pepper", type=EntityType.PER, start=35, end=41),
    ]
    knowledge = "Named entities: 1. Jess (person) – the poster's friend 2. Pepper (person/dog) – the poster's pet dog"
    assert spans(complete_with_listed(post, tagged, knowledge)) == [("Jess", "PER"), ("Pepper", "MISC")]


def test_a_name_given_with_its_kind_is_found_by_its_name() -> None:
    post = "Nutty the nuthatch is back on the old oak"
    found = complete_with_listed(post, [], "Named entities: 1. Nutty the nuthatch (animal) – a garden bird")
    assert spans(found) == [("Nutty", "MISC")]


def test_knowledge_that_is_not_a_list_changes_nothing() -> None:
    assert complete_with_listed(POST, [FESTIVAL], "Named entities: None") == [FESTIVAL]
    assert complete_with_listed(POST, [FESTIVAL], None) == [FESTIVAL]
    assert complete_with_listed(POST, [FESTIVAL], "Mariakrogh is a singer.") == [FESTIVAL]


def test_listed_types() -> None:
    assert is_animal("person/dog") and is_animal("animal") and is_animal("pet rabbits")
    assert not is_animal("person/actor")
    assert entity_type_of(ListedEntity("Biscuit", "miscellaneous/product", "")) is EntityType.MISC
    assert entity_type_of(ListedEntity("Biscuit", "person/rabbit", "")) is EntityType.MISC
    assert entity_type_of(ListedEntity("Forno Rosso", "organization/bakery", "")) is EntityType.ORG
    assert entity_type_of(ListedEntity("x", "handle", "")) is None


def test_the_handle_a_retweet_quotes_is_not_added() -> None:
    knowledge = "Named entities: 1. dallascowboys (organization/team) – an NFL team 2. DeMarco Murray (person)"
    for post in ("RT @dallascowboys: Great game for DeMarco Murray", "@dallascowboys: Great game for DeMarco Murray"):
        assert spans(complete_with_listed(post, [], knowledge)) == [("DeMarco Murray", "PER")]
    post = "Great game for DeMarco Murray @dallascowboys"
    assert ("dallascowboys", "ORG") in spans(complete_with_listed(post, [], knowledge))
