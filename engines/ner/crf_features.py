"""Per-word features of the CRF NER backend: word form, neighbours, spaCy's own tags, and the LLM's knowledge.

Shared by the backend (serving) and `gmner train ner` (training) through `post_features`, so both compute
exactly the same features; bump `FEATURE_VERSION` whenever a feature changes here or in the modules it reads
(knowledge_parsing, knowledge_match, gazetteer, spacy_features), which makes old model directories refuse to
load.

A linear-chain CRF cannot attend to text far from the word, so the knowledge is turned into explicit per-word
features (see `knowledge_match`): whether the word lies in a span the LLM named, with which type words, coarse
type and rank, whether the word is one word of a named entity or a prefix of one, which type words follow its
mentions in the reasoning, and how often (and whether capitalised) it occurs anywhere in the knowledge. The
gazetteer of the training data's entity strings adds what the training posts say about the word.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engines.ner.gazetteer import Gazetteer
from engines.ner.knowledge_match import KnowledgeMatch, match_knowledge
from engines.ner.spacy_features import SpacyTags
from engines.ner.word_clusters import WordClusters

FEATURE_VERSION = 1


def _shape(word: str) -> str:
    shape: list[str] = []
    for ch in word:
        c = "X" if ch.isupper() else "x" if ch.islower() else "d" if ch.isdigit() else ch
        if not shape or shape[-1] != c:
            shape.append(c)
    return "".join(shape)[:8]


def _bucket(count: int) -> str:
    return str(count) if count < 3 else "3+" if count < 6 else "6+"


def _word_features(word: str) -> list[str]:
    lower = word.lower()
    feats = [
        "w=" + lower,
        "shape=" + _shape(word),
        "suf3=" + lower[-3:],
        "suf2=" + lower[-2:],
        "pre3=" + lower[:3],
        "pre2=" + lower[:2],
    ]
    if word[:1].isupper():
        feats.append("title")
    if word.isupper() and any(ch.isalpha() for ch in word):
        feats.append("upper")
    if word.islower():
        feats.append("lower")
    if any(ch.isdigit() for ch in word):
        feats.append("digit")
    if not any(ch.isalnum() for ch in word):
        feats.append("punct")
    if any(ch.isupper() for ch in word[1:]) and any(ch.islower() for ch in word):
        feats.append("camel")
    if lower.startswith("http"):
        feats.append("url")
    feats.append("len=" + str(min(len(word), 10)))
    return feats


def sentence_features(
    words: Sequence[str],
    tags: SpacyTags | None,
    knowledge: str | None,
    *,
    use_knowledge: bool = True,
    gazetteer: Gazetteer | None = None,
    match: KnowledgeMatch | None = None,
    clusters: Sequence[Sequence[str]] | None = None,
) -> list[list[str]]:
    """One feature list per word. `tags` is `spacy_tags` for this post; knowledge is ignored when not used.

    `match` is `match_knowledge(words, knowledge)` when the caller has it already; `clusters` the words'
    `WordClusters.features` when the model has them.
    """
    n = len(words)
    gazetteer_features = gazetteer.features(words) if gazetteer is not None else [[] for _ in words]
    if match is None or not use_knowledge:
        match = match_knowledge(words, knowledge if use_knowledge else None)
    has_knowledge = use_knowledge and bool(knowledge and knowledge.strip())
    base = [_word_features(w) for w in words]
    local: list[list[str]] = []
    for i, word in enumerate(words):
        feats = ["bias"]
        prev = words[i - 1] if i > 0 else "<s>"
        if prev == "#":
            feats.append("after_hash")
        elif prev == "@":
            feats.append("after_at")
        if i == 0:
            feats.append("first")
        if i > 0 and words[0] == "RT" and i <= 3:
            feats.append("rt_head")
        if tags is not None:
            ent = tags.ent[i]
            feats += ["pos=" + tags.pos[i], "tag=" + tags.tag[i], "ent=" + ent]
            if ent != "O":
                feats.append("ent_type=" + ent[2:])
        if has_knowledge:
            feats.append("k")
            span = match.span_entity[i]
            if span is not None:
                feats += [
                    "k_span=" + match.span_tag[i],
                    "k_span_coarse=" + span.coarse,
                    "k_span_tag=" + match.span_tag[i] + "-" + span.coarse,
                ]
                tag = match.span_tag[i] + "-" + span.coarse
                feats += ["k_span_tw=" + t for t in span.type_words[:4]]
                feats += [f"k_span_tw={match.span_tag[i]}-{t}" for t in span.type_words[:2]]
                feats.append(f"k_span_rank={min(match.span_rank[i], 5)}")
                feats.append(f"k_span_len={min(match.span_length[i], 4)}")
                if prev in ("#", "@"):
                    feats.append(f"k_span_after={prev}{tag}")
                if word[:1].isupper():
                    feats.append(f"k_span_title={tag}")
                if tags is not None:
                    feats.append("k_span_coarse_ent=" + span.coarse + "|" + tags.ent[i][2:])
            part = match.part_entity[i]
            if part is not None:
                feats += ["k_part", "k_part_coarse=" + part.coarse]
            prefix = match.prefix_entity[i]
            if prefix is not None:
                feats += ["k_prefix", "k_prefix_coarse=" + prefix.coarse]
            feats += ["k_ctx=" + t for t in sorted(match.context_types[i])]
            feats.append("k_count=" + _bucket(match.count[i]))
            if match.capitalised[i]:
                feats.append("k_cap")
                if word.islower():
                    feats.append("k_cap_lower")
        feats += gazetteer_features[i]
        if clusters is not None:
            feats += clusters[i]
        local.append(feats)

    # Neighbours: a window of two words each side, with fewer features further away.
    out: list[list[str]] = []
    for i in range(n):
        feats = base[i] + local[i]
        for offset in (-2, -1, 1, 2):
            j = i + offset
            if not 0 <= j < n:
                feats.append(f"{offset}:pad")
                continue
            feats.append(f"{offset}:w=" + words[j].lower())
            if abs(offset) == 1:
                feats += [f"{offset}:" + f for f in base[j] if f.startswith(("shape=", "title", "upper"))]
                feats += [f"{offset}:" + f for f in local[j] if f.startswith(_NEIGHBOUR_PREFIXES)]
        out.append(feats)
    return out


_NEIGHBOUR_PREFIXES = ("pos=", "ent=", "k_span_tag=", "k_part_coarse=", "after_", "k_cap", "g_span=", "c64=")


CRFItem = list[str] | dict[str, float]


def post_features(
    words: Sequence[str],
    tags: SpacyTags,
    knowledge: str | None,
    *,
    use_knowledge: bool,
    gazetteer: Gazetteer | None,
    clusters: WordClusters | None = None,
    vectors: np.ndarray | None = None,
) -> tuple[KnowledgeMatch, list[CRFItem]]:
    """The knowledge match and the CRF's per-word features of one post, as serving and training compute them.

    `vectors` ([words, dims] contextual word vectors, for a CRF trained with them) are added as real-valued
    features `cv<k>`; each item is then a feature -> value dict instead of a list of binary features.
    """
    knowledge = knowledge if use_knowledge else None
    match = match_knowledge(words, knowledge)
    cluster_features = clusters.features(words) if clusters is not None else None
    features = sentence_features(
        words, tags, knowledge, use_knowledge=use_knowledge, gazetteer=gazetteer, match=match, clusters=cluster_features
    )
    if vectors is None:
        return match, list(features)
    items: list[CRFItem] = []
    for feats, row in zip(features, vectors, strict=True):
        item = dict.fromkeys(feats, 1.0)
        item.update({f"cv{k}": float(v) for k, v in enumerate(row)})
        items.append(item)
    return match, items
