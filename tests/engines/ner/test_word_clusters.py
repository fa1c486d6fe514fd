"""Word-vector clusters as CRF features, on a blank spaCy pipeline with a small vector table built here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import spacy
from spacy.vectors import Vectors

from engines.ner.crf_features import post_features
from engines.ner.spacy_features import spacy_tags
from engines.ner.word_clusters import WordClusters


@pytest.fixture(scope="module")
def nlp():
    nlp = spacy.blank("en")
    rng = np.random.default_rng(0)
    words = [f"name{i}" for i in range(40)] + [f"verb{i}" for i in range(40)]
    # Two tight groups of vectors: names around +c, verbs around -c.
    centre = rng.normal(size=16)
    data = np.concatenate([centre + 0.05 * rng.normal(size=(40, 16)), -centre + 0.05 * rng.normal(size=(40, 16))])
    nlp.vocab.vectors = Vectors(data=data.astype(np.float32), keys=[nlp.vocab.strings.add(w) for w in words])
    return nlp


def test_similar_vectors_share_a_cluster_and_unknown_words_have_none(nlp) -> None:
    clusters = WordClusters.build(nlp, levels=(2, 4))
    features = clusters.features(["name3", "Name7", "#name9", "verb1", "zzz"])
    coarse = [next(f for f in fs if f.startswith("c2=")) for fs in features]
    assert coarse[0] == coarse[1] == coarse[2]  # case and a leading # do not matter
    assert coarse[3] != coarse[0]
    assert features[4] == ["c2=none", "c4=none"]
    assert "zzz" not in nlp.vocab.strings  # looking a word up adds nothing to spaCy's string store


def test_saved_clusters_load_against_the_same_vectors(nlp, tmp_path: Path) -> None:
    clusters = WordClusters.build(nlp, levels=(2,))
    clusters.save(tmp_path / "c.npz")
    loaded = WordClusters.load(tmp_path / "c.npz", nlp)
    assert loaded.features(["name1", "verb2"]) == clusters.features(["name1", "verb2"])
    with pytest.raises(ValueError, match="no word vectors"):
        WordClusters.load(tmp_path / "c.npz", spacy.blank("en"))


def test_cluster_features_reach_the_crf_and_its_neighbours(nlp) -> None:
    clusters = WordClusters.build(nlp, levels=(64,))  # the coarse level is also a feature of the neighbours
    words = ["name1", "verb2"]
    tags = spacy_tags(nlp, [words])[0]
    _, without = post_features(words, tags, None, use_knowledge=False, gazetteer=None)
    _, with_clusters = post_features(words, tags, None, use_knowledge=False, gazetteer=None, clusters=clusters)
    own, neighbour = clusters.features(words)
    assert set(with_clusters[0]) - set(without[0]) == {*own, *(f"1:{f}" for f in neighbour)}
