"""Second stage of the CRF NER backend: candidate spans, span features, and a gradient-boosted span classifier.

The linear-chain CRF scores each word with linear features only; the classifier sees whole candidate spans and
combines the CRF's marginal probabilities with span-level facts non-linearly ("the LLM named exactly this span
as a team, it follows a #, the training data rarely tags it"). On Twitter-GMNER dev this adds about one F1
point over the CRF's own Viterbi output.

Candidates: the CRF's Viterbi spans, the spans the knowledge names exactly, and spans opened where the CRF's
marginal probability of a B- tag exceeds 0.1 and continued while an I- tag's exceeds 0.1. The classifier picks a
type or NONE for each; the surviving spans are taken greedily by score without overlaps.

The classifier is trained with scikit-learn (`gmner train ner`) and stored as plain arrays (`TreeEnsemble`), so
serving needs numpy only and no pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engines.ner.decoding import decode_tags
from engines.ner.gazetteer import Gazetteer
from engines.ner.knowledge_match import KnowledgeMatch
from engines.ner.knowledge_parsing import COARSE_TYPES, parse_knowledge
from engines.ner.spacy_features import SpacyTags
from engines.ner.word_context import span_vector

TYPES = ("PER", "LOC", "ORG", "MISC")
LABELS = ("O", *(f"{prefix}-{t}" for t in TYPES for prefix in ("B", "I")))
NONE = "NONE"
# spaCy OntoNotes labels read as span features (the rest count as "other").
ONTONOTES = ("PERSON", "GPE", "LOC", "FAC", "ORG", "NORP", "EVENT", "WORK_OF_ART", "PRODUCT")
CANDIDATE_MIN_PROB = 0.1
CANDIDATE_MAX_WORDS = 8

Span = tuple[int, int]


def crf_marginals(tagger: Any, features: Sequence[Any]) -> tuple[list[str], np.ndarray]:
    """(Viterbi tags, marginals [words, len(LABELS)]) of a pycrfsuite Tagger. Not thread-safe (tagger state)."""
    path = list(tagger.tag(features))
    known = set(tagger.labels())
    marginals = np.zeros((len(features), len(LABELS)), dtype=np.float64)
    for j, label in enumerate(LABELS):
        if label in known:
            for t in range(len(features)):
                marginals[t, j] = tagger.marginal(label, t)
    return path, marginals


def candidates(path: Sequence[str], marginals: np.ndarray, match: KnowledgeMatch) -> list[Span]:
    n = len(path)
    found: set[Span] = {(s.start, s.end) for s in decode_tags(path, "bio")}
    for i in range(n):
        if match.span_tag[i] == "B":
            j = i + 1
            while j < n and match.span_tag[j] == "I":
                j += 1
            found.add((i, j))
    if n:
        begin = marginals[:, 1::2].sum(axis=1)
        inside = marginals[:, 2::2].sum(axis=1)
        for i in range(n):
            if begin[i] <= CANDIDATE_MIN_PROB:
                continue
            j = i + 1
            found.add((i, j))
            while j < n and inside[j] > CANDIDATE_MIN_PROB and j - i < CANDIDATE_MAX_WORDS:
                j += 1
                found.add((i, j))
    return sorted(found)


@dataclass
class SpanFeaturizer:
    """Turns a candidate span into a fixed-length float vector. `type_words`: the LLM type words used as features."""

    type_words: list[str]

    def candidates(
        self,
        words: Sequence[str],
        tags: SpacyTags,
        path: Sequence[str],
        marginals: np.ndarray,
        match: KnowledgeMatch,
        gazetteer: Gazetteer | None,
        knowledge: str | None,
        vectors: np.ndarray | None = None,
    ) -> tuple[list[Span], np.ndarray]:
        """The candidate spans of one post and their feature rows, as serving and training compute them.

        `vectors`: the post's contextual word vectors [words, dims] when the model was trained with them.
        """
        spans = candidates(path, marginals, match)
        if not spans:
            return [], np.zeros((0, 0))
        entities, _ = parse_knowledge(knowledge)
        has_knowledge = bool(knowledge and knowledge.strip())
        rows = self(words, tags, path, marginals, match, gazetteer, spans, len(entities), has_knowledge, vectors)
        return spans, rows

    def __call__(
        self,
        words: Sequence[str],
        tags: SpacyTags,
        path: Sequence[str],
        marginals: np.ndarray,
        match: KnowledgeMatch,
        gazetteer: Gazetteer | None,
        spans: Sequence[Span],
        knowledge_entities: int,
        has_knowledge: bool,
        vectors: np.ndarray | None = None,
    ) -> np.ndarray:
        n = len(words)
        viterbi = {(s.start, s.end): s.label for s in decode_tags(path, "bio")}
        rows = []
        for a, b in spans:
            f: list[float] = []
            for k, _ in enumerate(TYPES):
                begin, inside = 1 + 2 * k, 2 + 2 * k
                p_begin = marginals[a, begin]
                p_inside = float(marginals[a + 1 : b, inside].min()) if b > a + 1 else 1.0
                p_next = marginals[b, inside] if b < n else 0.0
                p_mean = float(marginals[a + 1 : b, inside].mean()) if b > a + 1 else 0.0
                f += [p_begin, p_inside, p_next, p_begin * p_inside * (1 - p_next), p_mean]
            label = viterbi.get((a, b))
            f += [float(label == t) for t in TYPES] + [float(label is not None)]
            f += [marginals[a - 1, 0] if a > 0 else 1.0, marginals[b, 0] if b < n else 1.0]

            exact = (
                match.span_tag[a] == "B"
                and all(match.span_tag[i] == "I" for i in range(a + 1, b))
                and (b == n or match.span_tag[b] != "I")
            )
            entity = match.span_entity[a] if exact else None
            f.append(float(exact))
            f += [float(entity is not None and entity.coarse == c) for c in COARSE_TYPES]
            type_words = set(entity.type_words) if entity is not None else set()
            f += [float(w in type_words) for w in self.type_words]
            f += [
                float(match.span_rank[a]) if exact else 0.0,
                sum(bool(match.span_tag[i]) for i in range(a, b)) / (b - a),
            ]
            parts = [e for e in match.part_entity[a:b] if e is not None]
            f += [len(parts) / (b - a)] + [float(any(e.coarse == c for e in parts)) for c in COARSE_TYPES]
            context: set[str] = set().union(*match.context_types[a:b])
            f += [float(c in context) for c in COARSE_TYPES]
            f += [float(max(match.count[a:b])), float(min(match.count[a:b])), float(any(match.capitalised[a:b]))]
            f += [float(knowledge_entities), float(has_knowledge)]

            key = " ".join(w.lower() for w in words[a:b])
            entry = gazetteer.spans.get(key) if gazetteer is not None else None
            f += [float(entry is not None and entry[0] == t) for t in TYPES] + [entry[1] if entry else -1.0]
            word_entries = [gazetteer.words.get(w.lower()) if gazetteer is not None else None for w in words[a:b]]
            f.append(float(np.mean([e[1] if e else 0.0 for e in word_entries])))
            f += [sum(1 for e in word_entries if e and e[0] == t) / (b - a) for t in TYPES]

            first = tags.ent[a]
            spacy_exact = (
                first.startswith("B-")
                and all(tags.ent[i].startswith("I-") for i in range(a + 1, b))
                and (b == n or not tags.ent[b].startswith("I-"))
            )
            spacy_label = first[2:] if spacy_exact else ""
            f += [float(spacy_label == o) for o in ONTONOTES] + [float(spacy_exact)]
            f.append(sum(1 for i in range(a, b) if tags.ent[i] != "O") / (b - a))

            prev = words[a - 1] if a > 0 else ""
            span_words = words[a:b]
            f += [
                float(b - a),
                float(prev == "#"),
                float(prev == "@"),
                float(a == 0),
                float(words[0] == "RT" and a <= 3),
                float(all(w[:1].isupper() for w in span_words)),
                float(any(w.isupper() and len(w) > 1 for w in span_words)),
                float(words[a].islower()),
                float(any(ch.isdigit() for w in span_words for ch in w)),
                float(not any(ch.isalnum() for ch in words[b - 1])),
                float(not any(ch.isalnum() for ch in words[a])),
                float(words[a].lower() in ("the", "a")),
                float(b < n and words[b] == ":"),
            ]
            f += span_vector(vectors, a, b)
            rows.append(f)
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


@dataclass
class TreeEnsemble:
    """A gradient-boosted tree classifier as flat arrays (exported from scikit-learn's HistGradientBoosting).

    `predict_proba` walks every tree at once, one level per step, so a post's candidates cost a few numpy ops
    per tree level rather than a Python loop per tree.
    """

    classes: list[str]
    baseline: np.ndarray  # [trees per iteration]
    roots: np.ndarray  # [trees] index of each tree's root in the node arrays
    tree_class: np.ndarray  # [trees] which raw score a tree adds to
    feature: np.ndarray  # [nodes]
    threshold: np.ndarray  # [nodes] go left when x <= threshold
    missing_left: np.ndarray  # [nodes] where NaN goes
    left: np.ndarray  # [nodes] absolute node index
    right: np.ndarray
    leaf: np.ndarray  # [nodes] bool
    value: np.ndarray  # [nodes] leaf value
    depth: int

    @classmethod
    def from_sklearn(cls, model: Any, n_iterations: int | None = None) -> TreeEnsemble:
        """Export a fitted `HistGradientBoostingClassifier` (numeric features only), its first n iterations."""
        predictors = model._predictors[: n_iterations or len(model._predictors)]
        features, thresholds, missing, lefts, rights, leaves, values, roots, tree_class = ([] for _ in range(9))
        offset = 0
        depth = 0
        for iteration in predictors:
            for k, predictor in enumerate(iteration):
                nodes = predictor.nodes
                if np.any(nodes["is_categorical"]):
                    raise ValueError("categorical splits are not supported")
                roots.append(offset)
                tree_class.append(k)
                features.append(nodes["feature_idx"].astype(np.int32))
                thresholds.append(nodes["num_threshold"].astype(np.float64))
                missing.append(nodes["missing_go_to_left"].astype(bool))
                lefts.append(nodes["left"].astype(np.int32) + offset)
                rights.append(nodes["right"].astype(np.int32) + offset)
                leaves.append(nodes["is_leaf"].astype(bool))
                values.append(nodes["value"].astype(np.float64))
                depth = max(depth, int(nodes["depth"].max()))
                offset += len(nodes)
        return cls(
            classes=[str(c) for c in model.classes_],
            baseline=np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1),
            roots=np.asarray(roots, dtype=np.int32),
            tree_class=np.asarray(tree_class, dtype=np.int32),
            feature=np.concatenate(features) if features else np.zeros(0, np.int32),
            threshold=np.concatenate(thresholds) if thresholds else np.zeros(0),
            missing_left=np.concatenate(missing) if missing else np.zeros(0, bool),
            left=np.concatenate(lefts) if lefts else np.zeros(0, np.int32),
            right=np.concatenate(rights) if rights else np.zeros(0, np.int32),
            leaf=np.concatenate(leaves) if leaves else np.zeros(0, bool),
            value=np.concatenate(values) if values else np.zeros(0),
            depth=depth,
        )

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            path,
            classes=np.asarray(self.classes),
            baseline=self.baseline,
            roots=self.roots,
            tree_class=self.tree_class,
            feature=self.feature,
            threshold=self.threshold,
            missing_left=self.missing_left,
            left=self.left,
            right=self.right,
            leaf=self.leaf,
            value=self.value,
            depth=np.asarray(self.depth),
        )

    @classmethod
    def load(cls, path: str | Path) -> TreeEnsemble:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                classes=[str(c) for c in data["classes"]],
                baseline=data["baseline"],
                roots=data["roots"],
                tree_class=data["tree_class"],
                feature=data["feature"],
                threshold=data["threshold"],
                missing_left=data["missing_left"],
                left=data["left"],
                right=data["right"],
                leaf=data["leaf"],
                value=data["value"],
                depth=int(data["depth"]),
            )

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        rows = x.shape[0]
        scores = np.tile(self.baseline, (rows, 1))
        if rows == 0 or len(self.roots) == 0:
            return scores
        node = np.tile(self.roots, (rows, 1))  # [rows, trees]
        row_index = np.arange(rows)[:, None]
        for _ in range(self.depth):
            values = x[row_index, self.feature[node]]
            go_left = np.where(np.isnan(values), self.missing_left[node], values <= self.threshold[node])
            step = np.where(go_left, self.left[node], self.right[node])
            node = np.where(self.leaf[node], node, step)
        leaf_values = self.value[node]
        for k in range(len(self.baseline)):
            scores[:, k] += leaf_values[:, self.tree_class == k].sum(axis=1)
        return scores

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        scores = self.raw_scores(np.asarray(x, dtype=np.float64))
        if len(self.classes) == 2 and scores.shape[1] == 1:  # binary: one sigmoid score for classes[1]
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.stack([1.0 - positive, positive], axis=1)
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        proba: np.ndarray = exp / exp.sum(axis=1, keepdims=True)  # numpy's stubs type this division as Any
        return proba


def choose_spans(
    spans: Sequence[Span], probabilities: np.ndarray, classes: Sequence[str], threshold: float
) -> list[tuple[int, int, str]]:
    """Best non-NONE type per candidate; those scoring above `threshold`, greedily by score, without overlaps."""
    if not spans:
        return []
    types = [i for i, c in enumerate(classes) if c != NONE]
    if not types:
        return []
    scored = []
    for (a, b), row in zip(spans, probabilities, strict=True):
        best = max(types, key=lambda i: row[i])
        if row[best] > threshold:
            scored.append((float(row[best]), a, b, classes[best]))
    taken = np.zeros(max(b for _, b in spans), dtype=bool)
    chosen: list[tuple[int, int, str]] = []
    for _, a, b, label in sorted(scored, key=lambda s: (-s[0], s[1], s[2])):
        if taken[a:b].any():
            continue
        taken[a:b] = True
        chosen.append((a, b, label))
    return sorted(chosen)
