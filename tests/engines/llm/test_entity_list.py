"""The listed knowledge form: parsing, the descriptions by name, and the rewrite into the PLIM form."""

from __future__ import annotations

from engines.llm.entity_list import ListedEntity, as_plim, descriptions_by_name, parse_entity_list

LISTED = (
    "Named entities: 1. Bruno (person/dog) – the poster's golden retriever 2. Jess (person) – a friend of the "
    "poster 3. #CentralPark (location/park) – a park in New York City"
)


def test_a_listed_answer_is_parsed_item_by_item() -> None:
    assert parse_entity_list(LISTED) == [
        ListedEntity("Bruno", "person/dog", "the poster's golden retriever"),
        ListedEntity("Jess", "person", "a friend of the poster"),
        ListedEntity("#CentralPark", "location/park", "a park in New York City"),
    ]


def test_variants_small_models_write() -> None:
    # No spaces between items, a hyphen or colon instead of the dash, a missing description, a trailing full stop.
    text = "Named Entities:1. Falcon 9 (product) - a SpaceX rocket.2. SpaceX (organization): a company 3. Elon (person)"
    assert parse_entity_list(text) == [
        ListedEntity("Falcon 9", "product", "a SpaceX rocket."),
        ListedEntity("SpaceX", "organization", "a company"),
        ListedEntity("Elon", "person", ""),
    ]
    assert parse_entity_list("Named entities: None") == []
    assert parse_entity_list("Bruno is a dog.") == []  # no list
    assert parse_entity_list(None) == []


def test_descriptions_are_found_by_name_key() -> None:
    found = descriptions_by_name(LISTED + " 4. Bruno (person) – another Bruno 5. Max (person)")
    assert found == {
        "bruno": "the poster's golden retriever",  # the first item of a name wins
        "jess": "a friend of the poster",
        "centralpark": "a park in New York City",  # "#CentralPark" in the post and in the list alike
    }


def test_the_tagger_reads_a_listed_answer_in_the_plim_form() -> None:
    assert as_plim(LISTED) == (
        "Named entities: 1. Bruno (person/dog) 2. Jess (person) 3. #CentralPark (location/park) "
        "Reasoning: Bruno is the poster's golden retriever. Jess is a friend of the poster. "
        "#CentralPark is a park in New York City."
    )
    assert as_plim("Named entities: 1. Lyon (location) – French city") == (
        "Named entities: 1. Lyon (location) Reasoning: Lyon: French city."
    )


def test_other_knowledge_is_left_as_it_is() -> None:
    plim = "Named entities: 1. Lyon (location/city) Reasoning: Lyon is a city in France."
    assert as_plim(plim) == plim
    assert as_plim("Named entities: 1. Lyon (location)") == "Named entities: 1. Lyon (location)"
    assert as_plim("Lyon is a city.") == "Lyon is a city."
