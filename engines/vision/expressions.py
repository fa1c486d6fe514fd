"""Reading the parts of a referring expression `Name (TYPE) – description` for prompts and queries."""

from __future__ import annotations

import re

from shared.protocol.visual import VisualExpression

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
