"""Small helpers for reading what a small LLM wrote."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def first_sentence(text: str, max_chars: int = 200) -> str:
    """The first sentence of `text` on one line, cut at `max_chars` on a word boundary."""
    line = " ".join(text.split())
    match = _SENTENCE_END.search(line)
    if match:
        line = line[: match.start()]
    if len(line) > max_chars:
        line = line[:max_chars].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return line
