"""Chooses the in-context examples most similar to a post (cosine similarity of sentence embeddings)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from engines.ner.knowledge.bank import Example

Embed = Callable[[Sequence[str]], np.ndarray]


class ExampleSelector:
    """Example embeddings are computed once, at start-up; each post costs one embedding."""

    def __init__(self, examples: Sequence[Example], embed: Embed) -> None:
        self.examples = list(examples)
        self._embed = embed
        self._matrix = _normalise(embed([ex.text for ex in self.examples]))

    def select(self, text: str, k: int) -> list[Example]:
        if k <= 0 or not self.examples:
            return []
        query = _normalise(self._embed([text]))[0]
        scores = self._matrix @ query
        # Most similar last, so the best example sits right before the post in the prompt.
        order = np.argsort(-scores, kind="stable")[:k][::-1]
        return [self.examples[i] for i in order]


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalised: np.ndarray = matrix / np.clip(norms, 1e-12, None)  # numpy's stubs type this division as Any
    return normalised
