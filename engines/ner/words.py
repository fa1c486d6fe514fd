"""The dataset's tokenisation of a raw post: whitespace words, then attached symbols split off."""

from __future__ import annotations

import re

_WORD = re.compile(r"\S+")
# A word's leading #, @, quotes and brackets, and its trailing punctuation, are separate tokens in Twitter-GMNER
# (`RT @ user :`, `# Oscars`); raw posts have them attached (`RT @user:`, `#Oscars`).
_ATTACHED = re.compile(r"""^(?P<lead>[#@"'(\[“‘]*)(?P<core>.*?)(?P<trail>[.,:;!?"')\]”’…]*)$""", re.DOTALL)
_TRAIL_PIECE = re.compile(r"\.+|…|[^.…]")
_KEEP_WHOLE = re.compile(r"^(?:https?:|www\.|&\w+;$)", re.IGNORECASE)


def split_words(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Whitespace-separated words of `text` with their character offsets."""
    matches = list(_WORD.finditer(text))
    return [m.group() for m in matches], [(m.start(), m.end()) for m in matches]


def tweet_words(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Whitespace words, with attached #, @, quotes, brackets and end punctuation split off as the dataset does.

    Idempotent on the dataset's own tokens (joined by spaces) except for 0.1% of them (`2008,` -> `2008 ,`).
    """
    words: list[str] = []
    offsets: list[tuple[int, int]] = []
    for whole, (start, _) in zip(*split_words(text), strict=True):
        match = _ATTACHED.match(whole)
        core = match["core"] if match else ""
        if match is None or _KEEP_WHOLE.match(whole) or not any(ch.isalnum() for ch in core):
            pieces = [whole]
        else:
            pieces = [*match["lead"], core, *_TRAIL_PIECE.findall(match["trail"])]
        position = start
        for piece in pieces:
            words.append(piece)
            offsets.append((position, position + len(piece)))
            position += len(piece)
    return words, offsets
