"""The CRF NER model (the embedded default): a CRF over word, spaCy and knowledge features, then a span classifier.

Trained by `gmner train ner` on Twitter-GMNER (see models/ner-crf-twitter-gmner/MODEL_CARD.md). A model
directory holds:

    config.json        format, feature version, spaCy model, variants and their settings, training metrics
    gazetteer.json     entity strings and words of the training data with their usual type
    word_clusters.npz  optional: clusters of the spaCy model's word vectors (see `word_clusters`)
    word_context.npz   optional: projection of a sentence encoder's contextual word vectors (see `word_context`)
    knowledge/         the variant used when the LLM's knowledge is given: crf.crfsuite (+ reranker.npz)
    plain/             the variant used without knowledge

The knowledge is the `context` of the request (the LLM's "Named entities: ... Reasoning: ..." answer); it is
turned into per-word features (see `crf_features`), so the tagger uses it however far it is from the word.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engines.ner.crf_features import FEATURE_VERSION, post_features
from engines.ner.crf_rerank import SpanFeaturizer, TreeEnsemble, choose_spans, crf_marginals
from engines.ner.decoding import decode_tags
from engines.ner.gazetteer import Gazetteer
from engines.ner.spacy_features import SpacyTags, load_feature_spacy, spacy_tags
from engines.ner.word_clusters import CLUSTER_FILE, WordClusters
from engines.ner.word_context import CONTEXT_FILE, WordContext

MODEL_FORMAT = "gmner-crf-ner"
CONFIG_FILE = "config.json"
GAZETTEER_FILE = "gazetteer.json"
CRF_FILE = "crf.crfsuite"
RERANKER_FILE = "reranker.npz"
KNOWLEDGE_VARIANT = "knowledge"
PLAIN_VARIANT = "plain"


def default_model_path() -> Path:
    """models/ner-crf-twitter-gmner in the repository (the trained model committed with the code)."""
    return Path(__file__).resolve().parents[2] / "models" / "ner-crf-twitter-gmner"


def reads_contextual_vectors(variant_config: dict[str, Any]) -> bool:
    """Whether a trained variant (its entry under `variants` in config.json) reads the contextual word vectors."""
    return bool(variant_config.get("contextual_vectors") or variant_config.get("contextual_crf"))


@dataclass
class CRFVariant:
    """One trained CRF (+ optional span classifier), for posts with or without knowledge."""

    name: str
    use_knowledge: bool
    tagger: Any  # pycrfsuite.Tagger
    reranker: TreeEnsemble | None
    featurizer: SpanFeaturizer
    threshold: float
    contextual_vectors: bool = False  # its span classifier reads the post's contextual word vectors
    contextual_crf: bool = False  # its CRF reads them as real-valued word features

    @property
    def needs_vectors(self) -> bool:
        return self.contextual_vectors or self.contextual_crf

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any]) -> CRFVariant:
        import pycrfsuite

        tagger = pycrfsuite.Tagger()
        tagger.open(str(directory / CRF_FILE))
        reranker_path = directory / RERANKER_FILE
        reranker = TreeEnsemble.load(reranker_path) if config.get("reranker") and reranker_path.exists() else None
        return cls(
            name=directory.name,
            use_knowledge=bool(config["use_knowledge"]),
            tagger=tagger,
            reranker=reranker,
            featurizer=SpanFeaturizer(list(config.get("type_words", []))),
            threshold=float(config.get("threshold", 0.5)),
            contextual_vectors=bool(config.get("contextual_vectors", False)),
            contextual_crf=bool(config.get("contextual_crf", False)),
        )

    def predict(
        self,
        words: list[str],
        tags: SpacyTags,
        knowledge: str | None,
        gazetteer: Gazetteer | None,
        clusters: WordClusters | None = None,
        vectors: np.ndarray | None = None,
    ) -> list[tuple[int, int, str]]:
        """(first word, one past the last word, type) of each entity. Not thread-safe (the tagger has state)."""
        if not words:
            return []
        knowledge = knowledge if self.use_knowledge else None
        if self.needs_vectors and vectors is None:
            raise ValueError(f"variant {self.name!r} needs the post's contextual word vectors")
        match, features = post_features(
            words,
            tags,
            knowledge,
            use_knowledge=self.use_knowledge,
            gazetteer=gazetteer,
            clusters=clusters,
            vectors=vectors if self.contextual_crf else None,
        )
        if self.reranker is None:
            return [(s.start, s.end, s.label) for s in decode_tags(list(self.tagger.tag(features)), "bio")]
        path, marginals = crf_marginals(self.tagger, features)
        vectors = vectors if self.contextual_vectors else None
        spans, x = self.featurizer.candidates(words, tags, path, marginals, match, gazetteer, knowledge, vectors)
        if not spans:
            return []
        return choose_spans(spans, self.reranker.predict_proba(x), self.reranker.classes, self.threshold)


class CRFModel:
    """A loaded model directory: its variants, gazetteer, word clusters and contextual encoder; tags word lists."""

    def __init__(self, path: str | Path | None = None, *, spacy_model: str | None = None) -> None:
        directory = Path(path) if path else default_model_path()
        config_path = directory / CONFIG_FILE
        if not config_path.exists():
            raise FileNotFoundError(f"{config_path} not found: not a CRF NER model directory (gmner train ner)")
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if config.get("format") != MODEL_FORMAT:
            raise ValueError(f"{config_path}: format {config.get('format')!r}, expected {MODEL_FORMAT!r}")
        if config.get("feature_version") != FEATURE_VERSION:
            raise ValueError(
                f"{directory}: trained with feature version {config.get('feature_version')}, this code computes "
                f"version {FEATURE_VERSION}; retrain with `gmner train ner`"
            )
        self.path = directory
        self.config = config
        self.nlp = load_feature_spacy(spacy_model or config["spacy_model"])
        gazetteer_path = directory / GAZETTEER_FILE
        self.gazetteer = (
            Gazetteer.from_json(json.loads(gazetteer_path.read_text(encoding="utf-8")))
            if gazetteer_path.exists()
            else None
        )
        clusters_path = directory / CLUSTER_FILE
        self.clusters = WordClusters.load(clusters_path, self.nlp) if clusters_path.exists() else None
        self.variants = {
            name: CRFVariant.load(directory / name, variant) for name, variant in config["variants"].items()
        }
        # Only a model with a variant that reads contextual vectors (CRF or span classifier) pays for the encoder.
        self.word_context: WordContext | None = None
        if any(variant.needs_vectors for variant in self.variants.values()):
            context_path = directory / CONTEXT_FILE
            if not context_path.exists():
                raise ValueError(f"{directory}: a variant reads contextual vectors but {CONTEXT_FILE} is missing")
            self.word_context = WordContext.load(context_path)
        if not self.variants:
            raise ValueError(f"{config_path}: no variants")
        self._lock = threading.Lock()  # pycrfsuite taggers and spaCy pipelines keep per-call state

    def pick_variant(self, has_context: bool) -> CRFVariant:
        wanted = KNOWLEDGE_VARIANT if has_context else PLAIN_VARIANT
        if wanted in self.variants:
            return self.variants[wanted]
        # A model trained with one variant only: a knowledge model still tags without knowledge (worse).
        return next(iter(self.variants.values()))

    def tag(self, words: list[str], context: str | None) -> list[tuple[int, int, str]]:
        """(first word, one past the last word, CRF label) of each entity of the post's words."""
        if not words:
            return []
        context = context if context and context.strip() else None
        variant = self.pick_variant(context is not None)
        with self._lock:
            tags = spacy_tags(self.nlp, [words])[0]
            vectors = self.word_context([words])[0] if self.word_context is not None and variant.needs_vectors else None
            return variant.predict(words, tags, context, self.gazetteer, self.clusters, vectors)
