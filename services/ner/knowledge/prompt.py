"""The knowledge prompt, after the paper's PLIM template."""

from __future__ import annotations

from collections.abc import Sequence

from services.ner.knowledge.bank import Example

QUESTION = (
    "Comprehensively analyze the Text and the Image, which named entities and their corresponding types "
    "are included in the Text? Explain the reason for your judgment."
)
SYSTEM = (
    "You are an expert in named entity recognition for social-media posts. Answer in the format of the "
    "examples: list the named entities with their types, then explain briefly."
)
NO_IMAGE = "(no image description)"


def format_block(text: str, image: str | None, answer: str | None = None) -> str:
    block = f"Text: {text}\nImage: {image or NO_IMAGE}\nQuestion: {QUESTION}\nAnswer:"
    return f"{block} {answer}" if answer is not None else block


def build_knowledge_prompt(text: str, caption: str | None, examples: Sequence[Example]) -> str:
    """Few-shot prompt: the selected examples with their answers, then the post with an open answer."""
    blocks = [format_block(ex.text, ex.image, ex.answer) for ex in examples]
    blocks.append(format_block(text, caption))
    return "\n\n".join(blocks)
