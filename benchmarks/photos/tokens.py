"""The benchmark's gold tokens: a raw post split the way Twitter-GMNER tokenises tweets.

A word's leading `#`, `@`, quotes and brackets and its trailing punctuation are tokens of their own
(`#Caturday` -> `#` `Caturday`, `Bruno,` -> `Bruno` `,`), so a hashtag or handle entity is the name after the
sign, as in the dataset (`# BellaHadid` with `BellaHadid` tagged). The same rule as the NER stage's
`tweet_words`, copied so that the gold does not move when the tagger's preprocessing does. For a text already
written with spaces around its punctuation, the tokens are its whitespace words.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\S+")
_ATTACHED = re.compile(r"""^(?P<lead>[#@"'(\[“‘]*)(?P<core>.*?)(?P<trail>[.,:;!?"')\]”’…]*)$""", re.DOTALL)
_TRAIL_PIECE = re.compile(r"\.+|…|[^.…]")
_KEEP_WHOLE = re.compile(r"^(?:https?:|www\.|&\w+;$)", re.IGNORECASE)


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """`(token, start, end)` character spans of `text`'s tokens."""
    tokens: list[tuple[str, int, int]] = []
    for match in _WORD.finditer(text):
        whole = match.group()
        attached = _ATTACHED.match(whole)
        core = attached["core"] if attached else ""
        if attached is None or _KEEP_WHOLE.match(whole) or not any(ch.isalnum() for ch in core):
            pieces = [whole]
        else:
            pieces = [*attached["lead"], core, *_TRAIL_PIECE.findall(attached["trail"])]
        position = match.start()
        for piece in pieces:
            tokens.append((piece, position, position + len(piece)))
            position += len(piece)
    return tokens


def find_span(tokens: list[str], words: list[str]) -> int | None:
    """Index of the first token where `words` occur as whole tokens, or None."""
    n = len(words)
    return next((i for i in range(len(tokens) - n + 1) if n and tokens[i : i + n] == words), None)


def to_token_offsets(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Character offsets into `text` -> offsets into its tokens joined by single spaces (the gold text).

    None when the span does not start and end on token boundaries (it then matches no gold span).
    """
    tokens = tokenize(text)
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    first = next((i for i, (_, s, _) in enumerate(tokens) if s == start), None)
    last = next((i for i, (_, _, e) in enumerate(tokens) if e == end), None)
    if first is None or last is None or last < first:
        return None
    joined_start = sum(len(tok) + 1 for tok, _, _ in tokens[:first])
    joined_end = joined_start + len(" ".join(tok for tok, _, _ in tokens[first : last + 1]))
    return joined_start, joined_end
