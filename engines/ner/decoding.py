"""Turning per-token tags into entity spans (BIO / BIOES), and Viterbi decoding for a CRF layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TagSpan:
    label: str  # the type part of the tag, e.g. "PER"
    start: int  # first token index
    end: int  # one past the last token index


def split_tag(tag: str) -> tuple[str, str]:
    """`B-PER` -> (`B`, `PER`); `O` -> (`O`, ``). Accepts `B_PER` and `S-`/`U-`, `E-`/`L-` spellings."""
    if tag in ("O", "", "X"):
        return "O", ""
    prefix, _, label = tag.replace("_", "-").partition("-")
    prefix = {"U": "S", "L": "E"}.get(prefix.upper(), prefix.upper())
    if not label:  # a bare type such as "PER" counts as a single-token span
        return "S", prefix
    return prefix, label


def detect_scheme(labels: Sequence[str]) -> str:
    prefixes = {split_tag(label)[0] for label in labels}
    return "bioes" if prefixes & {"E", "S"} else "bio"


def decode_tags(tags: Sequence[str], scheme: str = "bio") -> list[TagSpan]:
    """Spans from a tag sequence. Lenient like seqeval: an I-/E- with no open span of its type opens one."""
    spans: list[TagSpan] = []
    open_label: str | None = None
    open_start = 0

    def close(end: int) -> None:
        nonlocal open_label
        if open_label is not None:
            spans.append(TagSpan(open_label, open_start, end))
        open_label = None

    for i, tag in enumerate(tags):
        prefix, label = split_tag(tag)
        if prefix == "O":
            close(i)
        elif prefix == "B":
            close(i)
            open_label, open_start = label, i
        elif prefix == "S":
            close(i)
            spans.append(TagSpan(label, i, i + 1))
        elif prefix in ("I", "E"):
            if open_label != label:
                close(i)
                open_label, open_start = label, i
            if prefix == "E" and scheme == "bioes":
                close(i + 1)
        else:
            close(i)
    close(len(tags))
    return spans


def viterbi_decode(
    emissions: np.ndarray, transitions: np.ndarray, start: np.ndarray | None = None, end: np.ndarray | None = None
) -> list[int]:
    """Best tag path for one sequence. emissions [T, K], transitions[i, j] = score of tag i -> tag j."""
    num_steps, num_tags = emissions.shape
    if num_steps == 0:
        return []
    score = emissions[0] + (start if start is not None else 0.0)
    backpointers = np.zeros((num_steps, num_tags), dtype=np.int64)
    for t in range(1, num_steps):
        candidates = score[:, None] + transitions + emissions[t][None, :]
        backpointers[t] = candidates.argmax(axis=0)
        score = candidates.max(axis=0)
    if end is not None:
        score = score + end
    best = [int(score.argmax())]
    for t in range(num_steps - 1, 0, -1):
        best.append(int(backpointers[t][best[-1]]))
    return best[::-1]
