"""Reading the parts of a referring expression `Name (TYPE) – description` for prompts and queries."""

from __future__ import annotations

import re

from shared.errors import APIError
from shared.protocol.visual import VisualExpression
from shared.validation import check_text

# The expansion stage writes an en dash; people and other tools write a hyphen or an em dash.
_SEPARATOR = re.compile(r"\s+[–—-]\s+")


def description_of(expression: VisualExpression) -> str:
    """The description after the dash, or "" when the expression has none."""
    text = expression.expression.strip()
    prefix = f"{expression.entity} ({expression.type.value})"
    if text.startswith(prefix):
        rest = text[len(prefix) :]
        match = _SEPARATOR.match(rest) or re.match(r"\s*[–—-]\s*", rest)
        return rest[match.end() :].strip() if match else rest.strip()
    parts = _SEPARATOR.split(text, maxsplit=1)
    return parts[1].strip() if len(parts) == 2 else ""


def fill(template: str, expression: VisualExpression, **extra: object) -> str:
    """`template` with `{entity}`, `{type}`, `{description}` (the entity when there is none),
    `{expression}` and any `extra` fields filled in."""
    description = description_of(expression)
    return template.format(
        entity=expression.entity,
        type=expression.type.value,
        description=description or expression.entity,
        expression=expression.expression,
        **extra,
    ).strip()


def check_expressions(expressions: list[VisualExpression], max_chars: int) -> None:
    """Blank or oversized text is refused (400 / 413) before the image is decoded."""
    if not expressions:
        raise APIError(400, "no_expressions", "`expressions` is empty: send at least one.")
    for i, expression in enumerate(expressions):
        check_text(expression.entity, max_chars, f"expressions[{i}].entity")
        check_text(expression.expression, max_chars, f"expressions[{i}].expression")
