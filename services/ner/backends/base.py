"""The NER backend interface, shaped like a Hugging Face pipeline: preprocess -> _forward -> postprocess."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from engines.ner.words import split_words
from shared.protocol.common import Entity


@dataclass
class TaggerInput:
    text: str
    context: str | None = None
    # Whitespace-separated words of `text` with their character offsets (the dataset's tokenisation).
    words: list[str] = field(default_factory=list)
    offsets: list[tuple[int, int]] = field(default_factory=list)


class NERBackend(ABC):
    """Tags `text`, optionally reading `context` (the LLM's knowledge) after it. Thread-safe calls only."""

    name: str = "base"
    # Whether the tagger can read extra context after the text (the knowledge step is pointless otherwise).
    supports_context: bool = False

    def __call__(self, text: str, context: str | None = None) -> list[Entity]:
        inputs = self.preprocess(text, context)
        outputs = self._forward(inputs)
        entities = self.postprocess(inputs, outputs)
        return sorted(entities, key=lambda e: (e.start, e.end))

    def preprocess(self, text: str, context: str | None) -> TaggerInput:
        words, offsets = split_words(text)
        return TaggerInput(text=text, context=context if self.supports_context else None, words=words, offsets=offsets)

    @abstractmethod
    def _forward(self, inputs: TaggerInput) -> Any: ...

    @abstractmethod
    def postprocess(self, inputs: TaggerInput, outputs: Any) -> list[Entity]: ...
