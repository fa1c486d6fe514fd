from __future__ import annotations

import numpy as np
import pytest

from engines.ner.decoding import TagSpan, decode_tags, detect_scheme, split_tag, viterbi_decode
from engines.ner.labels import to_gmner_type
from shared.protocol.common import EntityType


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("PERSON", EntityType.PER),
        ("GPE", EntityType.LOC),
        ("FAC", EntityType.LOC),
        ("LOC", EntityType.LOC),
        ("ORG", EntityType.ORG),
        ("NORP", EntityType.MISC),
        ("WORK_OF_ART", EntityType.MISC),
        ("EVENT", EntityType.MISC),
        ("PRODUCT", EntityType.MISC),
        ("OTHER", EntityType.MISC),
        ("per", EntityType.PER),
        ("DATE", None),
        ("CARDINAL", None),
        ("MONEY", None),
    ],
)
def test_label_map(label: str, expected: EntityType | None) -> None:
    assert to_gmner_type(label) == expected


def test_split_tag_spellings() -> None:
    assert split_tag("B-PER") == ("B", "PER")
    assert split_tag("I_ORG") == ("I", "ORG")
    assert split_tag("U-LOC") == ("S", "LOC")
    assert split_tag("L-LOC") == ("E", "LOC")
    assert split_tag("O") == ("O", "")


def test_bio_decoding() -> None:
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "I-ORG"]
    assert decode_tags(tags, "bio") == [
        TagSpan("PER", 0, 2),
        TagSpan("LOC", 3, 4),
        TagSpan("LOC", 4, 6),
        TagSpan("ORG", 7, 8),  # an I- with no open span starts one (seqeval's lenient rule)
    ]


def test_bio_type_change_inside_span_splits_it() -> None:
    assert decode_tags(["B-PER", "I-ORG"], "bio") == [TagSpan("PER", 0, 1), TagSpan("ORG", 1, 2)]


def test_bioes_decoding() -> None:
    tags = ["S-PER", "B-ORG", "I-ORG", "E-ORG", "O", "B-LOC", "E-LOC", "S-MISC"]
    assert decode_tags(tags, "bioes") == [
        TagSpan("PER", 0, 1),
        TagSpan("ORG", 1, 4),
        TagSpan("LOC", 5, 7),
        TagSpan("MISC", 7, 8),
    ]


def test_scheme_detection() -> None:
    assert detect_scheme(["O", "B-PER", "I-PER"]) == "bio"
    assert detect_scheme(["O", "B-PER", "I-PER", "E-PER", "S-PER"]) == "bioes"


def test_viterbi_prefers_allowed_transitions() -> None:
    # tags: 0=O, 1=B, 2=I. Emissions alone say O, I (argmax); O->I is forbidden, so the path is B, I.
    emissions = np.array([[1.0, 0.9, 0.0], [0.0, 0.0, 1.0]])
    transitions = np.zeros((3, 3))
    transitions[0, 2] = -100.0
    assert emissions.argmax(axis=1).tolist() == [0, 2]
    assert viterbi_decode(emissions, transitions) == [1, 2]


def test_viterbi_start_and_end_scores() -> None:
    emissions = np.zeros((1, 2))
    assert viterbi_decode(emissions, np.zeros((2, 2)), start=np.array([0.0, 1.0])) == [1]
    assert viterbi_decode(emissions, np.zeros((2, 2)), end=np.array([2.0, 0.0])) == [0]
    assert viterbi_decode(np.zeros((0, 2)), np.zeros((2, 2))) == []
