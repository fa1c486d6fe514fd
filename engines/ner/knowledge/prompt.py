"""The knowledge prompts: the paper's PLIM template with similar examples, and the listed form with a fixed prefix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engines.ner.knowledge.bank import Example

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


# The listed form (engines.llm.entity_list): the typed entity list with a short description per entity and no
# reasoning prose. Its examples are fixed, so every prompt starts with the same bytes and the LLM server re-uses
# the cached prefix; only the post (last) is evaluated per call.
LISTED_SYSTEM = (
    "You find the named entities in social-media posts: people (also pets and @handles of people), places, "
    "organizations (companies, shops, teams, bands, accounts) and other names (products, events, titles, "
    "hashtags). List each with its type and a short description of what it is, in the format of the examples, "
    'on one line. Answer "Named entities: None" when there is none.'
)
LISTED_EXAMPLES = Path(__file__).with_name("listed_examples.jsonl")


def format_listed_block(text: str, caption: str | None, answer: str | None = None) -> str:
    image = f"\nImage: {caption}" if caption else ""
    block = f"Text: {text}{image}\nAnswer:"
    return f"{block} {answer}" if answer is not None else block


def build_listed_prompt(text: str, caption: str | None, examples: Sequence[Example]) -> str:
    """The fixed examples, then the post: byte-identical up to the post for every post."""
    blocks = [format_listed_block(ex.text, None, ex.answer) for ex in examples]
    blocks.append(format_listed_block(text, caption))
    return "\n\n".join(blocks)
