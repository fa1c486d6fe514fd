"""Hand-written in-context examples for the knowledge prompt."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

BUNDLED_EXAMPLES = Path(__file__).with_name("examples.jsonl")


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    image: str  # a description of the post's image
    answer: str  # "Named entities: 1. X (type) ... Reasoning: ..."


def load_examples(path: str | Path | None = None) -> list[Example]:
    """Read a JSONL bank ({id, text, image, answer} per line); the bundled bank when `path` is None."""
    source = Path(path) if path else BUNDLED_EXAMPLES
    examples: list[Example] = []
    with source.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                examples.append(
                    Example(
                        id=str(record["id"]),
                        text=record["text"],
                        image=record.get("image", ""),
                        answer=record["answer"],
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{source}:{number}: not an example record ({exc})") from exc
    if not examples:
        raise ValueError(f"{source}: no examples")
    return examples
