"""Hugging Face token-classification backend (production): any local path or hub id, BIO/BIOES, optional CRF.

The text is split into whitespace words (the dataset's tokenisation); the knowledge, when given, is the
second sequence of the pair, so the encoder attends to it while only the text's words are tagged.
A CRF layer is used when the model directory holds `crf.safetensors` with `transitions` [K, K] and,
optionally, `start_transitions` / `end_transitions` [K] (the layout of pytorch-crf).

The input length defaults to the one the model was trained with (`training_report.json` of
`gmner train ner --recipe transformers`), since positions past it were never seen in fine-tuning; without a
report it is the smallest of the tokenizer's `model_max_length`, the model's position table and 512.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from engines.ner.decoding import decode_tags, detect_scheme, viterbi_decode
from engines.ner.labels import to_gmner_type
from services.ner.backends.base import NERBackend, TaggerInput
from shared.protocol.common import Entity

CRF_FILE = "crf.safetensors"
REPORT_FILE = "training_report.json"
DEFAULT_MAX_LENGTH = 512


class TransformersNERBackend(NERBackend):
    name = "transformers"
    supports_context = True

    def __init__(self, model: str, *, scheme: str = "auto", max_length: int | None = None, device: str = "cpu") -> None:
        import torch
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        if not self.tokenizer.is_fast:
            raise ValueError("the transformers NER backend needs a fast tokenizer (word_ids)")
        self.model = AutoModelForTokenClassification.from_pretrained(model).to(device).eval()
        self.device = device
        self.max_length = (
            max_length or trained_max_length(Path(model)) or _default_max_length(self.tokenizer, self.model)
        )
        self.id2label: dict[int, str] = {int(k): v for k, v in self.model.config.id2label.items()}
        labels = [self.id2label[i] for i in range(len(self.id2label))]
        self.scheme = detect_scheme(labels) if scheme == "auto" else scheme
        self.crf = _load_crf(Path(model) / CRF_FILE, len(labels))
        self._lock = threading.Lock()

    def _forward(self, inputs: TaggerInput) -> Any:
        if not inputs.words:
            return []
        context_words = inputs.context.split() if inputs.context else None
        encoding = self.tokenizer(
            inputs.words,
            context_words,
            is_split_into_words=True,
            truncation="only_second" if context_words else True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        word_ids = encoding.word_ids(0)
        sequence_ids = encoding.sequence_ids(0)
        with self._lock, self.torch.inference_mode():
            logits = self.model(**{k: v.to(self.device) for k, v in encoding.items()}).logits[0].float().cpu().numpy()
        # One score row per word of the text: its first sub-token (the usual NER convention).
        first_token: dict[int, int] = {}
        for index, (word, sequence) in enumerate(zip(word_ids, sequence_ids, strict=True)):
            if word is not None and sequence == 0 and word not in first_token:
                first_token[word] = index
        rows = [first_token[w] for w in range(len(inputs.words)) if w in first_token]
        emissions = logits[rows]
        label_ids = viterbi_decode(emissions, *self.crf) if self.crf is not None else emissions.argmax(axis=-1).tolist()
        tags = [self.id2label[i] for i in label_ids]
        # Words cut off by truncation (very long posts) stay untagged.
        return tags + ["O"] * (len(inputs.words) - len(tags))

    def postprocess(self, inputs: TaggerInput, outputs: Any) -> list[Entity]:
        entities: list[Entity] = []
        for span in decode_tags(outputs, self.scheme):
            entity_type = to_gmner_type(span.label)
            if entity_type is None:
                continue
            start, end = inputs.offsets[span.start][0], inputs.offsets[span.end - 1][1]
            entities.append(Entity(text=inputs.text[start:end], type=entity_type, start=start, end=end))
        return entities


def trained_max_length(model_dir: Path) -> int | None:
    """The `max_length` a model was fine-tuned with, from its training report; None without a readable one."""
    path = model_dir / REPORT_FILE
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))["config"]["max_length"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: no readable config.max_length ({exc})") from exc
    if not isinstance(value, int) or isinstance(value, bool) or value < 16:
        raise ValueError(f"{path}: config.max_length must be an integer >= 16, got {value!r}")
    return value


def _default_max_length(tokenizer: Any, model: Any) -> int:
    # Tokenizers saved without a limit report a huge sentinel (int(1e30)); the position table is the hard limit.
    limits = [DEFAULT_MAX_LENGTH]
    for limit in (getattr(tokenizer, "model_max_length", None), getattr(model.config, "max_position_embeddings", None)):
        if isinstance(limit, int) and limit > 0:
            limits.append(limit)
    return min(limits)


def _load_crf(path: Path, num_labels: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None] | None:
    if not path.exists():
        return None
    from safetensors.numpy import load_file

    tensors = load_file(str(path))
    transitions = tensors["transitions"]
    if transitions.shape != (num_labels, num_labels):
        raise ValueError(f"{path}: transitions {transitions.shape} do not match {num_labels} labels")
    return transitions, tensors.get("start_transitions"), tensors.get("end_transitions")
