"""The CRF backend: knowledge parsing and matching, features, the exported span classifier, and a model trained
on a tiny synthetic dataset (only the knowledge says which invented word is an entity) loaded and run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engines.ner.crf_features import sentence_features
from engines.ner.crf_model import CONFIG_FILE
from engines.ner.crf_rerank import TreeEnsemble, choose_spans
from engines.ner.gazetteer import Gazetteer
from engines.ner.knowledge_match import match_knowledge, name_alternatives
from engines.ner.knowledge_parsing import coarse_type, parse_knowledge
from engines.ner.words import tweet_words
from gmner.training.crf_recipe import CRFRecipeConfig, train_crf_ner
from gmner.training.synthetic import write_synthetic_dataset
from services.ner.backends import load_backend
from services.ner.backends.crf import CRFNERBackend
from services.ner.settings import NERSettings
from shared.protocol.common import EntityType


def _names(knowledge: str) -> list[tuple[str, str]]:
    return [(e.name, e.type) for e in parse_knowledge(knowledge)[0]]


def test_parse_knowledge_numbered_list_with_and_without_spaces() -> None:
    assert _names(
        "Named entities:1. Nick Jonas (person/musician)2. Demi Lovato (person/musician)Reasoning:The sentence ..."
    ) == [("Nick Jonas", "person/musician"), ("Demi Lovato", "person/musician")]
    assert _names("Named entities: 1. Bucks (team) 2. OJ Mayo (player) Reasoning: Milwaukee 3. not a list") == [
        ("Bucks", "team"),
        ("OJ Mayo", "player"),
    ]


def test_parse_knowledge_other_shapes() -> None:
    assert _names("Named entities: Trump (person), CNN (organization). Reasoning: x") == [
        ("Trump", "person"),
        ("CNN", "organization"),
    ]
    assert _names("Named entities: None. Reasoning: no names here") == []
    assert _names("Named entities:1. Paris (city)") == [("Paris", "city")]  # no Reasoning part
    assert _names("The post is about a cat.") == []  # free text: no list
    assert _names("") == [] and _names(None) == []  # type: ignore[arg-type]
    # A "name" that is a sentence is dropped.
    assert (
        _names(
            "Named entities: may not be present in this sentence as according to the rules marked by "
            "this data set. Reasoning: none"
        )
        == []
    )


def test_name_alternatives_and_coarse_types() -> None:
    assert name_alternatives("ASU (Arizona State University)") >= {"asu", "arizonastateuniversity"}
    assert name_alternatives("Lil_Eazy_Ana_42/Eddie Lacy") >= {"lileazyana42", "eddielacy"}
    assert "whitehouse" in name_alternatives("The White House")
    assert coarse_type("team/organization") == "ORG"
    assert coarse_type("person/handle") == "PER"
    assert coarse_type("handle") == "HANDLE"
    assert coarse_type("city") == "LOC"
    assert coarse_type("tv show") == "MISC"
    assert coarse_type("weather phenomenon") == "UNK"


def test_match_knowledge_on_letters_and_digits_longest_first() -> None:
    words = ["RT", "@", "MahaveerM", "_", ":", "#", "CondiRice", "visits", "New", "York", "City"]
    knowledge = (
        "Named entities: 1. MahaveerM_ (person/handle) 2. Condi Rice (person) 3. New York (city) "
        "4. New York City (city) Reasoning: Condi Rice visits New York City."
    )
    match = match_knowledge(words, knowledge)
    # A span never ends on a word with no letters or digits: "MahaveerM_" matches `MahaveerM`, not `_`.
    assert match.span_tag == ["", "", "B", "", "", "", "B", "", "B", "I", "I"]
    assert match.span_entity[6] is not None and match.span_entity[6].name == "Condi Rice"
    assert match.span_entity[8] is not None and match.span_entity[8].name == "New York City"
    assert match.span_rank[8] == 4 and match.span_length[8] == 3
    assert match.count[words.index("visits")] == 1
    assert match.capitalised[words.index("City")]
    assert "LOC" in match.context_types[words.index("York")] or match.span_entity[9] is not None


def test_features_use_knowledge_only_when_asked() -> None:
    words = ["i", "saw", "zorblat"]
    knowledge = "Named entities: 1. zorblat (person) Reasoning: zorblat is a person."
    with_knowledge = sentence_features(words, None, knowledge)
    without = sentence_features(words, None, knowledge, use_knowledge=False)
    assert "k_span_tag=B-PER" in with_knowledge[2]
    assert not any(f.startswith("k") for f in without[2])
    assert "-1:w=saw" in with_knowledge[2] and "1:pad" in with_knowledge[2]


def test_gazetteer_build_features_and_round_trip() -> None:
    posts = [
        (["go", "New", "York", "Knicks"], ["O", "B-ORG", "I-ORG", "I-ORG"]),
        (["New", "York", "is", "big"], ["B-LOC", "I-LOC", "O", "O"]),
        (["New", "York", "rocks"], ["B-LOC", "I-LOC", "O"]),
    ]
    gazetteer = Gazetteer.build(posts)
    assert gazetteer.spans["new york"] == ("LOC", pytest.approx(2 / 3))
    assert gazetteer.spans["new york knicks"] == ("ORG", 1.0)
    features = gazetteer.features(["watch", "new", "york", "knicks"])
    assert "g_span=B-ORG" in features[1] and "g_span=I-ORG" in features[3]
    again = Gazetteer.from_json(json.loads(json.dumps(gazetteer.to_json())))
    assert again.spans == gazetteer.spans and again.words == gazetteer.words


@pytest.mark.parametrize("classes", [["NONE", "PER", "LOC"], ["NONE", "PER"]])
def test_tree_ensemble_matches_sklearn(tmp_path: Path, classes: list[str]) -> None:
    ensemble_module = pytest.importorskip("sklearn.ensemble")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6))
    y = np.array(classes)[(np.abs(x[:, 0] * 2 + x[:, 1]) // 1.2).astype(int) % len(classes)]
    model = ensemble_module.HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=7, random_state=0).fit(x, y)
    TreeEnsemble.from_sklearn(model).save(tmp_path / "r.npz")
    ensemble = TreeEnsemble.load(tmp_path / "r.npz")
    assert ensemble.classes == sorted(classes) == [str(c) for c in model.classes_]
    probe = rng.normal(size=(50, 6))
    assert np.allclose(ensemble.predict_proba(probe), model.predict_proba(probe), atol=1e-9)
    # The first n iterations only, as training keeps the dev-best number.
    first = TreeEnsemble.from_sklearn(model, 10)
    staged = list(model.staged_predict_proba(probe))[9]
    assert np.allclose(first.predict_proba(probe), staged, atol=1e-9)


def test_choose_spans_takes_the_best_non_overlapping() -> None:
    classes = ["LOC", "NONE", "PER"]
    spans = [(0, 2), (1, 2), (3, 4), (4, 5)]
    probabilities = np.array(
        [
            [0.1, 0.2, 0.7],  # PER 0.7
            [0.8, 0.1, 0.1],  # LOC 0.8, overlaps (0, 2): wins
            [0.3, 0.6, 0.1],  # best type LOC 0.3 is under the threshold
            [0.45, 0.1, 0.45],
        ]
    )
    assert choose_spans(spans, probabilities, classes, 0.4) == [(1, 2, "LOC"), (4, 5, "LOC")]
    assert choose_spans([], np.zeros((0, 3)), classes, 0.4) == []


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crf")
    data = write_synthetic_dataset(root / "data", train=80, dev=24, test=8)
    out = root / "model"
    report = train_crf_ner(CRFRecipeConfig(data_dir=data, out=out, folds=2, gbm_iterations=40, log=lambda _m: None))
    assert set(report["variants"]) == {"knowledge", "plain"}
    return out


def test_trained_model_reads_the_type_from_the_knowledge(trained_model: Path) -> None:
    backend = CRFNERBackend(trained_model)
    text = "i saw blorptang yesterday"
    as_person = backend(text, "Named entities: 1. blorptang (person) Reasoning: blorptang is a person.")
    as_place = backend(text, "Named entities: 1. blorptang (location) Reasoning: blorptang is a place.")
    assert [(e.text, e.type, e.start, e.end) for e in as_person] == [("blorptang", EntityType.PER, 6, 15)]
    assert [(e.text, e.type) for e in as_place] == [("blorptang", EntityType.LOC)]
    assert backend(text, "Named entities: None. Reasoning: nothing.") == []
    config = json.loads((trained_model / CONFIG_FILE).read_text())
    assert config["variants"]["knowledge"]["dev"]["selected"]["f1"] == 100.0


def test_tweet_words_split_attached_symbols_as_the_dataset_does() -> None:
    text = 'RT @Evode7: #Oscars (via @ESPN) "wow" http://t.co/x. &amp; U.S. ...'
    words, offsets = tweet_words(text)
    assert words == [
        "RT", "@", "Evode7", ":", "#", "Oscars", "(", "via", "@", "ESPN", ")", '"', "wow", '"',
        "http://t.co/x.", "&amp;", "U.S", ".", "...",
    ]  # fmt: skip
    assert [text[a:b] for a, b in offsets] == words
    dataset = "RT @ Evode7 : # Oscars ( via @ ESPN ) Maxim ."  # already split: unchanged
    assert tweet_words(dataset)[0] == dataset.split()


def test_raw_posts_get_entities_without_the_attached_symbols(trained_model: Path) -> None:
    backend = CRFNERBackend(trained_model)
    text = "i saw #blorptang yesterday!"
    entities = backend(text, "Named entities: 1. #blorptang (organization) Reasoning: a club.")
    assert [(e.text, e.type, e.start, e.end) for e in entities] == [("blorptang", EntityType.ORG, 7, 16)]


def test_trained_model_without_knowledge_uses_the_plain_variant(trained_model: Path) -> None:
    backend = CRFNERBackend(trained_model)
    assert backend.model.pick_variant(False).name == "plain" and backend.model.pick_variant(True).name == "knowledge"
    # The text alone never says what an invented word is: nothing to tag, and no error.
    assert isinstance(backend("i saw blorptang yesterday"), list)
    assert backend("") == [] and backend("   ") == []


def test_load_backend_from_settings(trained_model: Path) -> None:
    backend = load_backend(NERSettings(backend="crf", crf_model=str(trained_model), knowledge_enabled=False))
    assert backend.name == "crf" and backend.supports_context


def test_bad_model_directories_are_refused(tmp_path: Path, trained_model: Path) -> None:
    with pytest.raises(FileNotFoundError):
        CRFNERBackend(tmp_path / "missing")
    config = json.loads((trained_model / CONFIG_FILE).read_text())
    for key, value in (("format", "something-else"), ("feature_version", -1)):
        broken = tmp_path / f"broken-{key}"
        broken.mkdir()
        (broken / CONFIG_FILE).write_text(json.dumps(config | {key: value}))
        with pytest.raises(ValueError):
            CRFNERBackend(broken)
