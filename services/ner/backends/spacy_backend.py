"""spaCy backend (embedded default): the bundled en_core_web_sm, OntoNotes labels mapped to GMNER types."""

from __future__ import annotations

import threading
from typing import Any

from engines.ner.labels import to_gmner_type
from engines.ner.spacy_features import load_spacy
from services.ner.backends.base import NERBackend, TaggerInput
from shared.protocol.common import Entity

# Text and knowledge are separated by a paragraph break so spaCy's parser starts a new sentence.
CONTEXT_SEPARATOR = "\n\n"
_STRIP = " \t\n.,:;!?\"'()[]{}"


class SpacyNERBackend(NERBackend):
    name = "spacy"
    supports_context = True

    def __init__(self, model: str) -> None:
        self.model_name = model
        self.nlp = load_spacy(model)
        self._lock = threading.Lock()  # spaCy pipelines are not documented as thread-safe

    def _forward(self, inputs: TaggerInput) -> Any:
        joined = inputs.text + (CONTEXT_SEPARATOR + inputs.context if inputs.context else "")
        with self._lock:
            return self.nlp(joined)

    def postprocess(self, inputs: TaggerInput, outputs: Any) -> list[Entity]:
        limit = len(inputs.text)
        entities: list[Entity] = []
        for ent in outputs.ents:
            entity_type = to_gmner_type(ent.label_)
            if entity_type is None or ent.end_char > limit:
                continue  # a non-entity label, or an entity found in the knowledge, not in the post
            start, end = _trim(inputs.text, ent.start_char, ent.end_char)
            if end > start:
                entities.append(Entity(text=inputs.text[start:end], type=entity_type, start=start, end=end))
        return entities


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop surrounding punctuation spaCy sometimes includes (`Maxim.`, `"Obama`), keeping # and @."""
    while start < end and text[start] in _STRIP:
        start += 1
    while end > start and text[end - 1] in _STRIP:
        end -= 1
    return start, end
