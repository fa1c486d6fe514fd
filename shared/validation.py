"""Checks on user text shared by every app that takes a post."""

from __future__ import annotations

from shared.errors import InvalidInput, PayloadTooLarge


def check_text(text: str, max_chars: int, field: str = "text") -> str:
    """Return `text` if it is usable; 400 when blank, 413 when longer than `max_chars`."""
    if not text or not text.strip():
        raise InvalidInput("empty_text", f"`{field}` is empty.")
    if len(text) > max_chars:
        raise PayloadTooLarge("text_too_long", f"`{field}` has {len(text)} characters; the limit is {max_chars}.")
    if "\x00" in text:
        raise InvalidInput("invalid_text", f"`{field}` contains a NUL character.")
    return text
