"""What the post's text says about where a named person is (`engines.vision.post_cues`)."""

from __future__ import annotations

import pytest

from engines.vision.post_cues import (
    apposition,
    left_to_right,
    mention_order,
    placed_elsewhere,
    poster_in_photo_with,
    side_of,
)


@pytest.mark.parametrize(
    ("name", "text", "rule"),
    [
        ("Jess", "Dog sitting for Jess this week, Bruno is the goodest boy", "for"),
        ("Jess", "Looking after my friend Jess's cat", "owner"),
        ("Jess", "Finally met my friend Jess's new puppy", "owner"),
        ("Jess", "Thinking of Jess today", "miss"),
        ("Jess", "Miss you Jess", "miss"),
        ("Valentino Rossi", "Valentino Rossi would love this Yamaha", "would"),
        ("Oscar Wilde", '"Be yourself; everyone else is already taken" - Oscar Wilde', "quoted"),
        ("Ansel Adams", "Photo by Ansel Adams", "quoted"),
        # In the photo: nothing places them elsewhere.
        ("Bruno", "Dog sitting for Jess this week, Bruno is the goodest boy", None),
        ("Eileen Collins", "Happy birthday to Eileen Collins ! NASA salutes you", None),
        ("Jess", "Hiking with my friend Jess today", None),
        ("Sam", "Waiting for the bus with Sam", None),
        ("Jess", None, None),
    ],
)
def test_rules_that_place_a_person_elsewhere(name: str, text: str | None, rule: str | None) -> None:
    assert placed_elsewhere(name, text) == rule


def test_position_cues() -> None:
    assert side_of("Mae Jemison", "Mae Jemison ( left ) and Eileen Collins") == "left"
    assert side_of("Eileen Collins", "Mae Jemison ( left ) and Eileen Collins") is None
    assert side_of("Kim", "Kim on the right, Jess on the left") == "right"
    assert side_of("Jess", "Kim on the right, Jess on the left") == "left"
    assert side_of("Jess", "Left: Jess. Right: Kim") == "left"
    assert left_to_right("L-R: Kim, Jess and Sam") and not left_to_right("Kim, Jess and Sam")


def test_mention_order_counts_names_the_tagger_missed() -> None:
    assert mention_order(["Jess"], "Kim and Jess at the beach") == ["Kim", "Jess"]
    assert mention_order(["Pam Melroy", "Eileen Collins"], "Eileen Collins and Pam Melroy") == [
        "Eileen Collins",
        "Pam Melroy",
    ]
    assert mention_order(["Jess"], "The beach with Jess") == ["Jess"]


def test_the_poster_in_the_photo() -> None:
    assert poster_in_photo_with("Jess", "Me and Jess at the beach")
    assert poster_in_photo_with("Jess", "Jess and I at the beach")
    assert not poster_in_photo_with("Jess", "Jess at the beach")


def test_unnamed_relations_count_in_the_order_of_mention() -> None:
    # "Jakob and his sister": two people, Jakob first; order of mention can then place him left of her.
    assert mention_order(["Jakob"], "Jakob and his sister at Desert View") == ["Jakob", "his sister"]
    assert mention_order(["Jess"], "My wife and Jess at the beach") == ["My wife", "Jess"]


def test_what_the_post_itself_calls_a_name() -> None:
    assert apposition("Reginald", "Reginald the capybara living his best life") == "capybara"
    assert apposition("Biscuit", "Meet Biscuit, our new bunny") == "bunny"
    assert apposition("Rex", "my dog Rex is back") == "dog"
    assert apposition("Eileen Collins", "NASA astronaut Eileen Collins before her flight") is None
