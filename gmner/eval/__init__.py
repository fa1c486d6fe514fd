"""Evaluation on Twitter-GMNER: gold and prediction readers, the paper's metrics, reports, dataset runner."""

from gmner.eval.gold import GoldEntity, GoldPost, attach_gold_masks, read_gold
from gmner.eval.metrics import METRICS, THRESHOLDS, EvalResult, evaluate
from gmner.eval.predictions import PredEntity, PredictionFile, PredPost, read_predictions

__all__ = [
    "METRICS",
    "THRESHOLDS",
    "EvalResult",
    "GoldEntity",
    "GoldPost",
    "PredEntity",
    "PredPost",
    "PredictionFile",
    "attach_gold_masks",
    "evaluate",
    "read_gold",
    "read_predictions",
]
