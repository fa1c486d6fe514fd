"""The training data's entity strings and words, with their usual type and how often they are entities."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Gazetteer:
    """Entity strings and words seen in the training data, with their usual type and how often they are entities.

    Built by `gmner train ner` (jack-knifed over folds for the training posts, so the CRF learns how far to
    trust it on unseen posts) and saved with the model.
    """

    # lower-cased words joined by a space -> (most frequent type, share of occurrences that are that entity)
    spans: dict[str, tuple[str, float]]
    # lower-cased word -> (most frequent type, share of occurrences inside an entity)
    words: dict[str, tuple[str, float]]
    max_words: int = 6

    @classmethod
    def build(cls, posts: Iterable[tuple[Sequence[str], Sequence[str]]], max_words: int = 6) -> Gazetteer:
        from engines.ner.decoding import decode_tags

        data = [([w.lower() for w in words], list(tags)) for words, tags in posts]
        span_types: dict[str, Counter[str]] = {}
        word_types: dict[str, Counter[str]] = {}
        word_total: Counter[str] = Counter()
        for words, tags in data:
            for span in decode_tags(tags, "bio"):
                if span.end - span.start <= max_words:
                    span_types.setdefault(" ".join(words[span.start : span.end]), Counter())[span.label] += 1
            word_total.update(words)
            for word, tag in zip(words, tags, strict=True):
                if tag != "O":
                    word_types.setdefault(word, Counter())[tag[2:]] += 1
        span_total: Counter[str] = Counter()
        for words, _ in data:
            for start in range(len(words)):
                for end in range(start + 1, min(len(words), start + max_words) + 1):
                    text = " ".join(words[start:end])
                    if text in span_types:
                        span_total[text] += 1
        spans = {}
        for text, types in span_types.items():
            label, count = types.most_common(1)[0]
            spans[text] = (label, count / max(span_total[text], count))
        words_out = {}
        for word, types in word_types.items():
            label, _ = types.most_common(1)[0]
            words_out[word] = (label, sum(types.values()) / max(word_total[word], 1))
        return cls(spans=spans, words=words_out, max_words=max_words)

    def to_json(self) -> dict[str, Any]:
        return {"max_words": self.max_words, "spans": self.spans, "words": self.words}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Gazetteer:
        return cls(
            spans={k: (v[0], float(v[1])) for k, v in data["spans"].items()},
            words={k: (v[0], float(v[1])) for k, v in data["words"].items()},
            max_words=int(data.get("max_words", 6)),
        )

    def features(self, words: Sequence[str]) -> list[list[str]]:
        lower = [w.lower() for w in words]
        n = len(words)
        out: list[list[str]] = [[] for _ in range(n)]
        taken = [False] * n
        matches = []
        for start in range(n):
            for end in range(start + 1, min(n, start + self.max_words) + 1):
                entry = self.spans.get(" ".join(lower[start:end]))
                if entry is not None:
                    matches.append((start, end, entry))
        # Longest first, then leftmost; overlapping shorter matches are dropped.
        for start, end, (label, rate) in sorted(matches, key=lambda m: (m[0] - m[1], m[0])):
            if any(taken[start:end]):
                continue
            for i in range(start, end):
                taken[i] = True
                position = "B" if i == start else "I"
                out[i] += [f"g_span={position}-{label}", f"g_span_rate={position}-{_rate(rate)}"]
        for i, word in enumerate(lower):
            entry = self.words.get(word)
            if entry is not None:
                out[i] += [f"g_word={entry[0]}", f"g_word_rate={_rate(entry[1])}"]
        return out


def _rate(rate: float) -> str:
    return "0" if rate < 0.1 else "1" if rate < 0.4 else "2" if rate < 0.7 else "3"
