"""Noisy training knowledge (gmner.training.knowledge_noise) and its use by the embedded training recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engines.ner.crf_model import CONFIG_FILE
from engines.ner.knowledge_parsing import parse_knowledge
from gmner.cli import main
from gmner.training.data import Post
from gmner.training.knowledge_noise import NoiseConfig, noisy_copies, render_knowledge
from gmner.training.synthetic import write_synthetic_dataset

KNOWLEDGE = (
    "Named entities: 1. Nick Jonas (person/musician) 2. Demi Lovato (person/musician) Reasoning: both are singers."
)


def post(i: int) -> Post:
    words = ["Nick", "Jonas", "feared", "pal", "Demi", "Lovato", "would", "suffer", "drug", "death"]
    tags = ["B-PER", "I-PER", "O", "O", "B-PER", "I-PER", "O", "O", "O", "O"]
    return Post(str(i), words, tags, KNOWLEDGE)


def test_render_round_trips_through_the_service_parser() -> None:
    text = render_knowledge([("Nick Jonas", "person/musician"), ("Demi Lovato", "person")], "both sing.")
    entities, _ = parse_knowledge(text)
    assert [(e.name, e.type) for e in entities] == [("Nick Jonas", "person/musician"), ("Demi Lovato", "person")]
    assert text.endswith("Reasoning: both sing.")
    assert parse_knowledge(render_knowledge([], ""))[0] == []


def test_copies_keep_words_and_tags_and_corrupt_the_list() -> None:
    posts = [post(i) for i in range(200)]
    copies = noisy_copies(posts, NoiseConfig(seed=3))
    assert [i for i, _ in copies] == list(range(200))
    dropped = spurious = retyped = 0
    gold_names = {"Nick Jonas", "Demi Lovato"}
    for index, copy in copies:
        assert (copy.id, copy.words, copy.tags) == (posts[index].id, posts[index].words, posts[index].tags)
        assert copy.knowledge is not None and copy.knowledge.endswith("Reasoning: both are singers.")
        listed = {(e.name, e.type) for e in parse_knowledge(copy.knowledge)[0]}
        names = {name for name, _ in listed}
        dropped += len(gold_names - names)
        extra = names - gold_names
        spurious += len(extra)
        # A spurious item from the post itself is made of its non-entity words, never of an entity's.
        assert all(name.lower() in " ".join(copy.words).lower() for name in extra)
        assert not any(word in {"Nick", "Jonas", "Demi", "Lovato"} for name in extra for word in name.split())
        retyped += sum(1 for name, type_ in listed if name in gold_names and not type_.startswith("person"))
    # With drop 0.25, retype 0.2 and one spurious item in 60 % of posts (rates of NoiseConfig), over 400 items:
    assert 60 < dropped < 140
    assert 70 < spurious < 170
    assert retyped == 0  # the only type strings in this training data are person types
    assert noisy_copies(posts, NoiseConfig(seed=3)) == copies  # seeded: the same copies again


def test_posts_without_an_entity_list_get_no_copy() -> None:
    posts = [Post("a", ["hi"], ["O"], None), Post("b", ["hi"], ["O"], "Named entities: None."), post(1)]
    assert [i for i, _ in noisy_copies(posts)] == [2]


def test_training_with_knowledge_noise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = write_synthetic_dataset(tmp_path / "data", train=48, dev=16, test=8)
    out = tmp_path / "model"
    args = ["train", "ner", "--data-dir", str(data_dir), "--out", str(out), "--folds", "2", "--gbm-iterations", "30"]
    assert main([*args, "--knowledge-noise"]) == 0
    assert "noisy knowledge copies added" in capsys.readouterr().err
    config = json.loads((out / CONFIG_FILE).read_text())
    assert config["training"]["config"]["knowledge_noise"] is True
    assert config["variants"]["knowledge"]["dev"]["selected"]["f1"] > 0.9
