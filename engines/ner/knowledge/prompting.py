"""The knowledge step's two prompt forms, behind one interface: what to send the LLM for a post.

`similar` (the paper's PLIM prompt, examples chosen per post by similarity) and `listed` (a fixed few-shot prefix,
answered with the typed entity list and a short description each): see NERSettings.knowledge_prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from engines.ner.knowledge.bank import Example, load_examples
from engines.ner.knowledge.prompt import (
    LISTED_EXAMPLES,
    LISTED_SYSTEM,
    SYSTEM,
    build_knowledge_prompt,
    build_listed_prompt,
)
from engines.ner.knowledge.selector import Embed, ExampleSelector

# A PLIM answer ends before the next example block; a listed answer is one line.
PLIM_STOP = ["\n\nText:", "\nText:", "\nQuestion:"]
LISTED_STOP = ["\n"]


@dataclass(frozen=True, slots=True)
class KnowledgeCall:
    prompt: str
    system: str
    stop: list[str]
    max_tokens: int


class KnowledgePromptSettings(Protocol):
    """What the prompt forms read from the NER service's settings (`GMNER_NER_*`, the NERSettings of services/ner)."""

    @property
    def knowledge_prompt(self) -> str: ...
    @property
    def examples_path(self) -> str | None: ...
    @property
    def examples_k(self) -> int: ...
    @property
    def knowledge_max_tokens(self) -> int: ...
    @property
    def listed_examples_path(self) -> str | None: ...
    @property
    def listed_max_tokens(self) -> int: ...


class KnowledgePrompt(Protocol):
    name: str

    def build(self, text: str, caption: str | None) -> KnowledgeCall:
        """The call for one post (may embed the post: CPU work, run it off the event loop)."""
        ...


class SimilarExamplesPrompt:
    name = "similar"

    def __init__(self, selector: ExampleSelector, k: int, max_tokens: int) -> None:
        self.selector, self.k, self.max_tokens = selector, k, max_tokens

    def build(self, text: str, caption: str | None) -> KnowledgeCall:
        examples = self.selector.select(text, self.k)
        return KnowledgeCall(build_knowledge_prompt(text, caption, examples), SYSTEM, PLIM_STOP, self.max_tokens)


class ListedPrompt:
    name = "listed"

    def __init__(self, examples: list[Example], max_tokens: int) -> None:
        self.examples, self.max_tokens = examples, max_tokens

    def build(self, text: str, caption: str | None) -> KnowledgeCall:
        return KnowledgeCall(
            build_listed_prompt(text, caption, self.examples), LISTED_SYSTEM, LISTED_STOP, self.max_tokens
        )


def _similar(settings: KnowledgePromptSettings, embed: Callable[[], Embed]) -> KnowledgePrompt:
    selector = ExampleSelector(load_examples(settings.examples_path), embed())
    return SimilarExamplesPrompt(selector, settings.examples_k, settings.knowledge_max_tokens)


def _listed(settings: KnowledgePromptSettings, embed: Callable[[], Embed]) -> KnowledgePrompt:
    return ListedPrompt(load_examples(settings.listed_examples_path or LISTED_EXAMPLES), settings.listed_max_tokens)


# name -> builder; `embed` is called only by the forms that select examples (it loads the sentence encoder).
KNOWLEDGE_PROMPTS: dict[str, Callable[[KnowledgePromptSettings, Callable[[], Embed]], KnowledgePrompt]] = {
    "similar": _similar,
    "listed": _listed,
}


def load_knowledge_prompt(settings: KnowledgePromptSettings, embed: Callable[[], Embed]) -> KnowledgePrompt:
    return KNOWLEDGE_PROMPTS[settings.knowledge_prompt](settings, embed)
