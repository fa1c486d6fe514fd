"""Contextual word vectors as span features: what a sentence encoder makes of each word in its post.

The CRF and the span classifier see word forms, spaCy's tags and the knowledge; nothing in them says that
"Benz" in "a Mercedes Benz ad" reads like a brand or "Durant" like a player. A sentence encoder's hidden states
do, in context, for words the training data never had. Each word's vector is the mean of its sub-tokens' last
hidden states from the bundled all-MiniLM-L6-v2 (or another BERT-like encoder), projected by a PCA fitted on
the training posts to a few dimensions, so the gradient-boosted span classifier can split on them; a span's
feature is the mean of its words' projected vectors.

Fitted by `gmner train ner --contextual-vectors` and saved with the model (`word_context.npz`: the projection
and the encoder it belongs to); serving computes the same vectors with the same encoder.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CONTEXT_FILE = "word_context.npz"
BUNDLED_ENCODER = "bundled:all-MiniLM-L6-v2"
DEFAULT_DIMS = 32
MAX_SUBTOKENS = 128
BATCH_SIZE = 32


class WordEncoder:
    """Per-word hidden states of a BERT-like encoder (mean over each word's sub-tokens)."""

    def __init__(self, encoder: str = BUNDLED_ENCODER) -> None:
        import torch
        from transformers import AutoTokenizer

        from engines.ner.knowledge.embedder import bundled_minilm_path, shared_encoder_model

        path = str(bundled_minilm_path()) if encoder == BUNDLED_ENCODER else encoder
        self.encoder = encoder
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if not self.tokenizer.is_fast:
            raise ValueError(f"{encoder}: contextual word vectors need a fast tokenizer (word_ids)")
        self.model = shared_encoder_model(path)
        self.width = int(self.model.config.hidden_size)
        self._lock = threading.Lock()

    def __call__(self, posts: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """[words, hidden] per post; words cut off past MAX_SUBTOKENS get zeros."""
        out: list[np.ndarray] = []
        for start in range(0, len(posts), BATCH_SIZE):
            batch = [list(words) for words in posts[start : start + BATCH_SIZE]]
            out += self._batch(batch)
        return out

    def _batch(self, batch: list[list[str]]) -> list[np.ndarray]:
        nonempty = [words if words else [""] for words in batch]
        encoding = self.tokenizer(
            nonempty,
            is_split_into_words=True,
            truncation=True,
            max_length=MAX_SUBTOKENS,
            padding=True,
            return_tensors="pt",
        )
        with self._lock, self.torch.inference_mode():
            hidden = self.model(**encoding).last_hidden_state.float().numpy()
        vectors: list[np.ndarray] = []
        for row, words in enumerate(batch):
            sums = np.zeros((len(words), self.width), dtype=np.float64)
            counts = np.zeros(len(words), dtype=np.float64)
            for index, word in enumerate(encoding.word_ids(row)):
                if word is not None and word < len(words):
                    sums[word] += hidden[row, index]
                    counts[word] += 1
            vectors.append(sums / np.maximum(counts, 1.0)[:, None])
        return vectors


@dataclass
class WordContext:
    """An encoder and the PCA projection fitted on the training posts' word vectors."""

    encoder: WordEncoder
    mean: np.ndarray  # [hidden]
    components: np.ndarray  # [dims, hidden]

    @property
    def dims(self) -> int:
        return int(self.components.shape[0])

    @classmethod
    def fit(
        cls, encoder: WordEncoder, raw: Sequence[np.ndarray], dims: int = DEFAULT_DIMS, seed: int = 0
    ) -> WordContext:
        """Fits the projection on the raw vectors of training posts (`encoder(posts)`); at most `encoder.width`."""
        from sklearn.decomposition import PCA

        dims = min(dims, encoder.width)
        data = np.concatenate([r for r in raw if len(r)]) if any(len(r) for r in raw) else np.zeros((0, 0))
        if data.shape[0] < dims:
            raise ValueError(f"{data.shape[0]} words are too few to fit {dims} contextual dimensions")
        pca = PCA(n_components=dims, random_state=seed).fit(data)
        return cls(encoder, pca.mean_.astype(np.float64), pca.components_.astype(np.float64))

    def project(self, raw: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [(r - self.mean) @ self.components.T if len(r) else np.zeros((0, self.dims)) for r in raw]

    def __call__(self, posts: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """[words, dims] per post."""
        return self.project(self.encoder(posts))

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, encoder=np.asarray(self.encoder.encoder), mean=self.mean, components=self.components)

    @classmethod
    def load(cls, path: str | Path, encoder: WordEncoder | None = None) -> WordContext:
        with np.load(path, allow_pickle=False) as data:
            name = str(data["encoder"])
            mean, components = data["mean"], data["components"]
        encoder = encoder or WordEncoder(name)
        if encoder.encoder != name:
            raise ValueError(f"{path}: fitted for encoder {name!r}, given {encoder.encoder!r}")
        if mean.shape != (encoder.width,) or components.shape[1:] != (encoder.width,):
            raise ValueError(f"{path}: projection {components.shape} does not fit the encoder's width {encoder.width}")
        return cls(encoder, mean, components)


def span_vector(vectors: np.ndarray | None, start: int, end: int) -> list[float]:
    """The mean projected vector of words [start, end); nothing when the model has no word context."""
    if vectors is None:
        return []
    values: Any = vectors[start:end].mean(axis=0)
    return [float(v) for v in values]
