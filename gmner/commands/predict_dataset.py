"""`gmner predict-dataset`: run a Twitter-GMNER split through a running gateway, writing prediction JSONL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

MAX_FAILURES_SHOWN = 10


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "predict-dataset",
        help="run a dataset split through the gateway, writing prediction JSONL for `gmner eval`",
        description="POST every post of a split to {gateway}/v1/gmner, a bounded number at a time, appending one "
        "line (the response plus the post id) per post to --output. Resumable: ids already in --output are "
        "skipped, failed posts are not written and are retried by the next run.",
    )
    parser.add_argument(
        "--gold-dir",
        "--dataset-dir",
        dest="gold_dir",
        required=True,
        type=Path,
        help="dataset dir with txt/<split>.txt",
    )
    parser.add_argument("--split", default="test", help="train, dev or test (default: test)")
    parser.add_argument("--output", "-o", required=True, type=Path, help="prediction JSONL (appended to)")
    parser.add_argument("--gateway", default="http://127.0.0.1:8000", help="gateway base URL")
    parser.add_argument("--api-key", help="the gateway's API key, if it requires one (default: $GMNER_API_KEY)")
    parser.add_argument("--images-dir", type=Path, help="<id>.jpg images; without it the text path (mner) runs")
    parser.add_argument("--tasks", choices=["mner", "gmner", "smner"], help="default: gmner with images, else mner")
    parser.add_argument("--knowledge-file", type=Path, help="knowledge in the dataset's <EOS> format, sent per post")
    parser.add_argument("--captions-file", type=Path, help="captions (imgid:<id>###text or <id>.jpg :text)")
    knowledge = parser.add_mutually_exclusive_group()
    knowledge.add_argument(
        "--use-knowledge",
        dest="use_knowledge",
        action="store_const",
        const=True,
        help="ask the gateway to use LLM knowledge",
    )
    knowledge.add_argument(
        "--no-knowledge",
        dest="use_knowledge",
        action="store_const",
        const=False,
        help="ask the gateway not to use LLM knowledge",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    parser.add_argument("--retries", type=int, default=2, help="retries on 429/5xx/connection errors (default 2)")
    parser.add_argument("--limit", type=int, help="only the first N posts of the split")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run, use_knowledge=None)


def run(args: argparse.Namespace) -> int:
    from gmner.eval.predict import PredictConfig
    from gmner.eval.predict import run as run_predict

    if args.concurrency < 1:
        print("gmner predict-dataset: --concurrency must be at least 1", file=sys.stderr)
        return 2
    cfg = PredictConfig(
        dataset_dir=args.gold_dir,
        split=args.split,
        output=args.output,
        gateway=args.gateway,
        images_dir=args.images_dir,
        tasks=args.tasks,
        knowledge_file=args.knowledge_file,
        captions_file=args.captions_file,
        use_knowledge=args.use_knowledge,
        concurrency=args.concurrency,
        timeout_s=args.timeout,
        retries=max(0, args.retries),
        limit=args.limit,
        progress=not args.no_progress,
        api_key=args.api_key,
    )
    try:
        summary = run_predict(cfg)
    except (OSError, ValueError) as exc:
        print(f"gmner predict-dataset: {exc}", file=sys.stderr)
        return 2
    print(
        f"tasks={summary.tasks}: {summary.written} written, {summary.skipped} already done, "
        f"{len(summary.failed)} failed, of {summary.total} posts -> {args.output}",
        file=sys.stderr,
    )
    for post_id, reason in list(summary.failed.items())[:MAX_FAILURES_SHOWN]:
        print(f"failed: {post_id}: {reason}", file=sys.stderr)
    if summary.failed:
        print("rerun the same command to retry the failed posts", file=sys.stderr)
        return 1
    return 0
