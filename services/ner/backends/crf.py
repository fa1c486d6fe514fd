"""CRF backend (embedded default): `engines.ner.crf_model.CRFModel` on the dataset's tokenisation of the post."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engines.ner.crf_model import CRFModel
from engines.ner.labels import to_gmner_type
from engines.ner.words import tweet_words
from services.ner.backends.base import NERBackend, TaggerInput
from shared.protocol.common import Entity


class CRFNERBackend(NERBackend):
    name = "crf"
    supports_context = True

    def __init__(self, path: str | Path | None = None, *, spacy_model: str | None = None) -> None:
        self.model = CRFModel(path, spacy_model=spacy_model)

    def preprocess(self, text: str, context: str | None) -> TaggerInput:
        inputs = super().preprocess(text, context)
        inputs.words, inputs.offsets = tweet_words(text)
        return inputs

    def _forward(self, inputs: TaggerInput) -> Any:
        return self.model.tag(inputs.words, inputs.context)

    def postprocess(self, inputs: TaggerInput, outputs: Any) -> list[Entity]:
        entities: list[Entity] = []
        for first, end, label in outputs:
            entity_type = to_gmner_type(label)
            if entity_type is None:
                continue
            start, stop = inputs.offsets[first][0], inputs.offsets[end - 1][1]
            entities.append(Entity(text=inputs.text[start:stop], type=entity_type, start=start, end=stop))
        return entities
