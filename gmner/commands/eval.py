"""`gmner eval`: score prediction JSONL against gold Twitter-GMNER (MNER, GMNER, EEG; SMNER, EES with masks)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

MAX_WARNINGS_SHOWN = 10


def _iou(value: str) -> float:
    iou = float(value)
    if not 0.0 < iou <= 1.0:
        raise argparse.ArgumentTypeError("--iou must be in (0, 1]")
    return iou


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score predictions against gold Twitter-GMNER data",
        description="Score prediction JSONL (one gateway response + id per line) against a Twitter-GMNER split: "
        "MNER, GMNER, EEG, and SMNER/EES when gold masks are given. Prints tables; --report writes JSON.",
    )
    parser.add_argument("--gold-dir", required=True, type=Path, help="dataset dir with txt/ and xml/")
    parser.add_argument("--split", default="test", help="train, dev or test (default: test)")
    parser.add_argument("--predictions", required=True, type=Path, help="prediction JSONL")
    parser.add_argument("--gold-masks", type=Path, help="gold mask JSONL: enables SMNER and EES")
    parser.add_argument(
        "--iou", type=_iou, default=0.5, help="a region is correct when IoU >= this (default 0.5, as RiVEG's scorer)"
    )
    parser.add_argument(
        "--iou-strict", action="store_true", help="IoU must exceed the threshold (the H-Index scorer's rule)"
    )
    parser.add_argument("--report", type=Path, help="write the JSON report here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gmner.eval.gold import GoldStats, attach_gold_masks, read_gold
    from gmner.eval.metrics import evaluate
    from gmner.eval.predictions import read_predictions
    from gmner.eval.report import print_tables, progress_factory

    started = time.perf_counter()
    progress = progress_factory(not args.no_progress)
    gold_stats = GoldStats()
    try:
        gold = read_gold(args.gold_dir, args.split, progress=progress, stats=gold_stats)
        if args.gold_masks is not None:
            attach_gold_masks(gold, args.gold_masks, stats=gold_stats)
        predictions = read_predictions(args.predictions)
    except (OSError, ValueError) as exc:
        print(f"gmner eval: {exc}", file=sys.stderr)
        return 2
    result = evaluate(
        gold,
        predictions,
        iou=args.iou,
        with_masks=args.gold_masks is not None,
        strict=args.iou_strict,
        progress=progress,
    )
    result.warnings = gold_stats.warnings + result.warnings
    elapsed = time.perf_counter() - started

    for warning in result.warnings[:MAX_WARNINGS_SHOWN]:
        print(f"warning: {warning}", file=sys.stderr)
    if len(result.warnings) > MAX_WARNINGS_SHOWN:
        more = len(result.warnings) - MAX_WARNINGS_SHOWN
        print(f"warning: ... {more} more (all are in the JSON report)", file=sys.stderr)
    print_tables(result)
    print(f"{len(gold)} posts scored in {elapsed:.2f}s", file=sys.stderr)

    if args.report is not None:
        report = {
            "gold_dir": str(args.gold_dir),
            "split": args.split,
            "predictions": str(args.predictions),
            "gold_masks": None if args.gold_masks is None else str(args.gold_masks),
            "runtime_s": round(elapsed, 3),
            **result.to_dict(),
        }
        report["counts"]["gold_unmatched_xml_objects"] = gold_stats.unmatched_objects
        report["counts"]["gold_unmatched_masks"] = gold_stats.unmatched_masks
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"report written to {args.report}", file=sys.stderr)
    return 0
