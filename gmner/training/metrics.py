"""Span-level MNER precision / recall / F1 (exact span and type), for model selection and quick reports.

A predicted span counts once: duplicates of one (start, end, type) in a post are merged, as are gold ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from engines.ner.decoding import decode_tags
from gmner.eval.metrics import precision_recall_f1

Span = tuple[int, int, str]


@dataclass
class PRF:
    tp: int = 0
    predicted: int = 0
    gold: int = 0
    per_type: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return precision_recall_f1(self.tp, self.predicted, self.gold)[0]

    @property
    def recall(self) -> float:
        return precision_recall_f1(self.tp, self.predicted, self.gold)[1]

    @property
    def f1(self) -> float:
        return precision_recall_f1(self.tp, self.predicted, self.gold)[2]

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(100 * self.precision, 2),
            "recall": round(100 * self.recall, 2),
            "f1": round(100 * self.f1, 2),
            "tp": self.tp,
            "predicted": self.predicted,
            "gold": self.gold,
        }


def tag_spans(tags: Sequence[str]) -> set[Span]:
    return {(s.start, s.end, s.label) for s in decode_tags(tags, "bio")}


def score_spans(gold: Iterable[set[Span]], predicted: Iterable[set[Span]]) -> PRF:
    out = PRF()
    counts: dict[str, list[int]] = {}
    for gold_spans, predicted_spans in zip(gold, predicted, strict=True):
        correct = gold_spans & predicted_spans
        out.tp += len(correct)
        out.predicted += len(predicted_spans)
        out.gold += len(gold_spans)
        for spans, index in ((correct, 0), (predicted_spans, 1), (gold_spans, 2)):
            for span in spans:
                counts.setdefault(span[2], [0, 0, 0])[index] += 1
    out.per_type = {label: (c[0], c[1], c[2]) for label, c in sorted(counts.items())}
    return out


def score_tags(gold: Iterable[Sequence[str]], predicted: Iterable[Sequence[str]]) -> PRF:
    return score_spans((tag_spans(g) for g in gold), (tag_spans(p) for p in predicted))
