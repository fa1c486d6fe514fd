"""Word-vector clusters as CRF features: words used alike share a cluster id, also words the training data lacks.

A CRF sees each word form as its own feature, so a name it never saw ("Durant") gets nothing from one it did
("LeBron"). Clustering the word vectors of the feature spaCy model (k-means at a coarse and a fine level, the
embedding analogue of Brown clusters) gives such words a shared feature. The clustering is fitted by
`gmner train ner --word-clusters` and saved with the model as a vector row -> cluster table; at serving time a
word is looked up in the same spaCy model's vector table (no string is added to spaCy's store).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CLUSTER_FILE = "word_clusters.npz"
LEVELS = (64, 512)


def _vector_table(nlp: Any) -> tuple[dict[int, int], int]:
    vectors = nlp.vocab.vectors
    if vectors.shape[0] == 0:
        raise ValueError("the spaCy model has no word vectors: word clusters need one that has (e.g. en_core_web_md)")
    return dict(vectors.key2row), int(vectors.shape[0])


@dataclass
class WordClusters:
    key2row: dict[int, int]  # spaCy string hash -> vector row
    levels: dict[int, np.ndarray]  # clusters k -> cluster of each vector row

    @classmethod
    def build(cls, nlp: Any, levels: Sequence[int] = LEVELS, seed: int = 0) -> WordClusters:
        from sklearn.cluster import MiniBatchKMeans

        key2row, rows = _vector_table(nlp)
        data = np.asarray(nlp.vocab.vectors.data, dtype=np.float32)[:rows]
        data = data / np.maximum(np.linalg.norm(data, axis=1, keepdims=True), 1e-6)  # cosine geometry
        fitted = {}
        for k in levels:
            model = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=4096, n_init=3)
            fitted[k] = model.fit_predict(data).astype(np.int16)
        return cls(key2row, fitted)

    def save(self, path: Path) -> None:
        # allow_pickle spelled out (its default) so the type checker knows no table name can be that keyword.
        np.savez_compressed(path, allow_pickle=True, **{f"k{k}": table for k, table in self.levels.items()})

    @classmethod
    def load(cls, path: Path, nlp: Any) -> WordClusters:
        key2row, rows = _vector_table(nlp)
        with np.load(path) as data:
            levels = {int(name[1:]): data[name] for name in data.files}
        for k, table in levels.items():
            if len(table) != rows:
                raise ValueError(f"{path}: {k}-cluster table has {len(table)} rows, the spaCy vectors {rows}")
        return cls(key2row, levels)

    def row(self, word: str) -> int | None:
        # spaCy's strings.pyi omits hash_string, a cpdef function of its strings.pyx.
        from spacy.strings import hash_string  # type: ignore[attr-defined]

        for form in (word, word.lower(), word.lstrip("#@").lower()):
            if form:
                row = self.key2row.get(hash_string(form))
                if row is not None:
                    return row
        return None

    def features(self, words: Sequence[str]) -> list[list[str]]:
        out = []
        for word in words:
            row = self.row(word)
            if row is None:
                out.append([f"c{k}=none" for k in self.levels])
            else:
                out.append([f"c{k}={int(table[row])}" for k, table in self.levels.items()])
        return out
