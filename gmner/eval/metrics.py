"""GMNER metrics with the RiVEG paper's rules.

Metrics (micro-averaged over all entities of the split):

    MNER   span + type
    GMNER  span + type + box       EEG  span + box (type ignored)
    SMNER  span + type + mask      EES  span + mask (type ignored)     -- only when gold masks are given

A prediction is correct only when every element its metric checks is correct. Spans are token spans: a
prediction matches the gold entity with exactly the same tokens (see `predictions.align`). A predicted region
is correct when its IoU with *any* gold region of that entity is at least the threshold (RiVEG's
`statistic.py`: `iou >= 0.5`; `strict=True` gives the H-Index scorer's `> 0.5`, which differs only for an IoU
exactly at the threshold). A prediction without a region (`groundable: false`, or no box/mask) is correct only
when the gold entity has no region; a prediction with a region for an entity that has none is wrong. A
prediction that says `groundable: true` but carries no box has claimed a region it does not give: wrong for
GMNER and EEG whatever the gold says (RiVEG only ever scores a groundable prediction by its box).

Types: the dataset's OTHER and the service's MISC are one type, reported as MISC.

Counting: TP = gold entities with at least one correct prediction; precision = TP / all predictions; recall =
TP / all gold entities. So predictions that share a span (duplicates) can earn at most one TP together; every
other one is a false positive. A multi-box gold entity is still one entity: one prediction whose box overlaps
any one of its boxes recovers it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from gmner.eval.gold import GoldPost
from gmner.eval.predictions import AlignStats, PredictionFile, PredPost, align
from gmner.eval.regions import box_iou, decode_flat, mask_iou

THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # 0.50 .. 0.95
TYPE_NOTE = "the dataset's OTHER and the service's MISC are one type, reported as MISC"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    typed: bool
    region: Literal["box", "mask"] | None
    description: str


METRICS: dict[str, MetricSpec] = {
    "MNER": MetricSpec(True, None, "span + type"),
    "GMNER": MetricSpec(True, "box", "span + type + box"),
    "EEG": MetricSpec(False, "box", "span + box"),
    "SMNER": MetricSpec(True, "mask", "span + type + mask"),
    "EES": MetricSpec(False, "mask", "span + mask"),
}
MASK_METRICS = ("SMNER", "EES")


def precision_recall_f1(tp: int, predicted: int, gold: int) -> tuple[float, float, float]:
    """Micro precision, recall and F1 (fractions; 0 where undefined)."""
    p = tp / predicted if predicted else 0.0
    r = tp / gold if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@dataclass(slots=True)
class PRF:
    tp: int = 0
    pred: int = 0
    gold: int = 0

    @property
    def precision(self) -> float:
        return precision_recall_f1(self.tp, self.pred, self.gold)[0]

    @property
    def recall(self) -> float:
        return precision_recall_f1(self.tp, self.pred, self.gold)[1]

    @property
    def f1(self) -> float:
        return precision_recall_f1(self.tp, self.pred, self.gold)[2]

    def to_dict(self) -> dict[str, float | int]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, **_counts(self)}


def _counts(prf: PRF) -> dict[str, int]:
    return {"tp": prf.tp, "pred": prf.pred, "gold": prf.gold}


@dataclass(slots=True)
class _Candidate:
    """A prediction that has the span of a gold entity, with what the metrics need to judge it."""

    type_ok: bool
    has_box: bool
    box_claimed_missing: bool  # `groundable: true` without a box: wrong for the box metrics
    box_iou: float  # best IoU over the entity's gold boxes; 0 without a box or gold boxes
    has_mask: bool
    mask_iou: float


@dataclass(slots=True)
class _Unit:
    """A gold entity and the predictions that share its span."""

    type: str
    n_boxes: int
    n_masks: int
    candidates: list[_Candidate] = field(default_factory=list)


def region_correct(n_gold: int, has_pred: bool, best_iou: float, threshold: float, strict: bool = False) -> bool:
    """The paper's region rule: no gold region -> only "no region" is right; else IoU >= threshold (> if strict)."""
    if n_gold == 0:
        return not has_pred
    return has_pred and (best_iou > threshold if strict else best_iou >= threshold)


def _is_correct(unit: _Unit, cand: _Candidate, spec: MetricSpec, threshold: float, strict: bool) -> bool:
    if spec.typed and not cand.type_ok:
        return False
    if spec.region == "box":
        if cand.box_claimed_missing:
            return False
        return region_correct(unit.n_boxes, cand.has_box, cand.box_iou, threshold, strict)
    if spec.region == "mask":
        return region_correct(unit.n_masks, cand.has_mask, cand.mask_iou, threshold, strict)
    return True


@dataclass(slots=True)
class EvalResult:
    iou: float
    strict: bool
    metrics: dict[str, PRF]
    per_type: dict[str, dict[str, PRF]]  # typed metrics only
    sweep: dict[str, list[tuple[float, PRF]]]  # region metrics only
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def iou_rule(self) -> str:
        return f"IoU {'>' if self.strict else '>='} {self.iou:g}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "iou_threshold": self.iou,
            "iou_rule": self.iou_rule,
            "types": TYPE_NOTE,
            "metrics": {
                name: {
                    **prf.to_dict(),
                    "checks": METRICS[name].description,
                    **(
                        {"per_type": {t: v.to_dict() for t, v in self.per_type[name].items()}}
                        if name in self.per_type
                        else {}
                    ),
                }
                for name, prf in self.metrics.items()
            },
            "sweep": {name: [{"iou": thr, **prf.to_dict()} for thr, prf in rows] for name, rows in self.sweep.items()},
            "counts": self.counts,
            "warnings": self.warnings,
        }


def _identity(items: Iterable[Any], total: int | None = None, desc: str = "") -> Iterable[Any]:
    return items


class _MaskScorer:
    """Best mask IoU against an entity's gold masks; decoded gold masks are kept, each is reused per candidate."""

    def __init__(self) -> None:
        self.size_mismatch = 0
        self.invalid = 0
        self._gold: dict[int, npt.NDArray[np.bool_]] = {}

    def best_iou(self, pred_mask: dict[str, Any], gold_masks: tuple[dict[str, Any], ...]) -> float:
        try:
            pred = decode_flat(pred_mask)
        except (ValueError, TypeError, KeyError, IndexError):
            self.invalid += 1  # a broken predicted mask overlaps nothing
            return 0.0
        best = 0.0
        for gm in gold_masks:
            gold = self._gold.get(id(gm))
            if gold is None:
                gold = self._gold[id(gm)] = decode_flat(gm)
            if list(gm["size"]) != list(pred_mask["size"]):
                self.size_mismatch += 1
                continue
            best = max(best, mask_iou(pred, gold))
        return best


def evaluate(
    gold: list[GoldPost],
    predictions: PredictionFile,
    iou: float = 0.5,
    with_masks: bool = False,
    strict: bool = False,
    thresholds: Iterable[float] = THRESHOLDS,
    progress: Callable[..., Iterable[Any]] = _identity,
) -> EvalResult:
    """Score predictions against gold (see the module docstring for the rules)."""
    align_stats = AlignStats()
    masks = _MaskScorer()
    units: list[_Unit] = []
    pred_types: Counter[str] = Counter()
    n_pred = duplicates = unmatched = missing = claimed_without_box = text_only = 0
    for post in progress(gold, total=len(gold), desc="scoring"):
        pred = predictions.posts.get(post.id)
        if pred is None:
            missing += 1
            pred = PredPost(post.id, None, [])
        post_units = [_Unit(g.type, len(g.boxes), len(g.masks) if with_masks else 0) for g in post.entities]
        by_span = {(g.start, g.end): i for i, g in enumerate(post.entities)}
        seen: set[tuple[int, int]] = set()
        for ent, span in zip(pred.entities, align(post, pred, align_stats), strict=True):
            n_pred += 1
            pred_types[ent.type] += 1
            claims_missing_box = ent.groundable is True and ent.box is None
            claimed_without_box += claims_missing_box
            text_only += ent.groundable is None and ent.box is None
            if span is None:
                continue
            if span in seen:
                duplicates += 1
            seen.add(span)
            gi = by_span.get(span)
            if gi is None:
                unmatched += 1
                continue
            g = post.entities[gi]
            pbox, pmask = ent.region_box, ent.region_mask
            biou = max((box_iou(pbox, gb) for gb in g.boxes), default=0.0) if pbox is not None else 0.0
            miou = masks.best_iou(pmask, g.masks) if (with_masks and pmask is not None and g.masks) else 0.0
            post_units[gi].candidates.append(
                _Candidate(ent.type == g.type, pbox is not None, claims_missing_box, biou, pmask is not None, miou)
            )
        units.extend(post_units)

    names = [n for n in METRICS if with_masks or n not in MASK_METRICS]
    gold_types: Counter[str] = Counter(u.type for u in units)
    types = sorted(gold_types.keys() | pred_types.keys())

    def score(spec: MetricSpec, threshold: float) -> tuple[PRF, dict[str, PRF]]:
        per = {t: PRF(0, pred_types[t], gold_types[t]) for t in types}
        total = PRF(0, n_pred, len(units))
        for unit in units:
            if any(_is_correct(unit, c, spec, threshold, strict) for c in unit.candidates):
                total.tp += 1
                per[unit.type].tp += 1
        return total, per

    metrics: dict[str, PRF] = {}
    per_type: dict[str, dict[str, PRF]] = {}
    sweep: dict[str, list[tuple[float, PRF]]] = {}
    for name in names:
        spec = METRICS[name]
        metrics[name], per = score(spec, iou)
        if spec.typed:
            per_type[name] = per
        if spec.region is not None:
            sweep[name] = [(thr, score(spec, thr)[0]) for thr in thresholds]

    warnings = list(predictions.warnings)
    gold_ids = {p.id for p in gold}
    extra = sum(1 for pid in predictions.posts if pid not in gold_ids)
    if missing:
        warnings.append(f"{missing} gold posts have no prediction line: counted as predicting nothing")
    if extra:
        warnings.append(f"{extra} prediction ids are not in the gold split: ignored")
    if align_stats.misaligned:
        warnings.append(f"{align_stats.misaligned} predicted entities fit no token span: counted as wrong")
    if text_only and any(METRICS[n].region == "box" for n in names):
        warnings.append(
            f"{text_only} predicted entities carry no visual answer (groundable null, no box: text-only "
            "predictions, e.g. tasks=mner): GMNER/EEG score them as ungroundable"
        )
    if claimed_without_box:
        warnings.append(f"{claimed_without_box} predicted entities are groundable without a box: wrong for GMNER/EEG")
    if masks.invalid:
        warnings.append(f"{masks.invalid} predicted masks could not be decoded: IoU 0")
    if masks.size_mismatch:
        warnings.append(f"{masks.size_mismatch} predicted masks differ in size from the gold mask: IoU 0")
    boxes_without_masks = sum(1 for u in units if u.n_boxes and not u.n_masks)
    if with_masks and boxes_without_masks:
        warnings.append(f"{boxes_without_masks} gold entities have boxes but no gold mask: ungroundable for SMNER/EES")
    counts = {
        "gold_posts": len(gold),
        "gold_entities": len(units),
        "gold_groundable_entities": sum(1 for u in units if u.n_boxes),
        "gold_boxes": sum(u.n_boxes for u in units),
        "gold_entities_with_masks": sum(1 for u in units if u.n_masks),
        "prediction_posts": len(predictions.posts),
        "predictions": n_pred,
        "missing_posts": missing,
        "extra_posts": extra,
        "error_posts": predictions.error_posts,
        "invalid_lines": predictions.invalid_lines,
        "duplicate_ids": predictions.duplicate_ids,
        "aligned_by_offsets": align_stats.by_offsets,
        "aligned_by_surface": align_stats.by_surface,
        "misaligned": align_stats.misaligned,
        "text_mismatch_posts": align_stats.text_mismatch_posts,
        "duplicate_predictions": duplicates,
        "groundable_without_box": claimed_without_box,
        "text_only_predictions": text_only,
        "predictions_matching_no_gold_span": unmatched,
        "mask_size_mismatch": masks.size_mismatch,
        "invalid_predicted_masks": masks.invalid,
    }
    return EvalResult(iou, strict, metrics, per_type, sweep, counts, warnings)
