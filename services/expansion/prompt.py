"""The expansion prompt, after the paper's template, with a fixed few-shot set."""

from __future__ import annotations

from dataclasses import dataclass

QUESTION = "In the context of the provided information, tell me briefly what is the {entity} in the Text?"
NO_BACKGROUND = "(none)"


@dataclass(frozen=True)
class ExpansionExample:
    background: str
    text: str
    entity: str
    answer: str


FEW_SHOT: tuple[ExpansionExample, ...] = (
    ExpansionExample(
        background="LeBron James is a professional basketball player who plays for the Cleveland Cavaliers.",
        text="LeBron James drops 41 as the Cavaliers beat the Raptors",
        entity="LeBron James",
        answer="LeBron James is an American professional basketball player of the Cleveland Cavaliers.",
    ),
    ExpansionExample(
        background="The Golden Gate Bridge is a suspension bridge in San Francisco, California.",
        text="Sunset over the Golden Gate Bridge tonight , San Francisco never gets old",
        entity="San Francisco",
        answer="San Francisco is a city in California, in the United States.",
    ),
    ExpansionExample(
        background="Apple is an American technology company that makes the iPhone.",
        text="Can't wait for the new iPhone , Apple event starts at 10am",
        entity="Apple",
        answer="Apple is an American technology company that designs the iPhone.",
    ),
)


def format_block(background: str, text: str, entity: str, answer: str | None = None) -> str:
    block = (
        f"Background: {background or NO_BACKGROUND}\nText: {text}\nQuestion: {QUESTION.format(entity=entity)}\nAnswer:"
    )
    return f"{block} {answer}" if answer is not None else block


def build_expansion_prompt(background: str, text: str, entity: str) -> str:
    blocks = [format_block(ex.background, ex.text, ex.entity, ex.answer) for ex in FEW_SHOT]
    blocks.append(format_block(background, text, entity))
    return "\n\n".join(blocks)


def referring_expression(entity: str, entity_type: str, description: str) -> str:
    """`Name (TYPE) – description`, the form the visual stages read."""
    return f"{entity} ({entity_type}) – {description}" if description else f"{entity} ({entity_type})"
