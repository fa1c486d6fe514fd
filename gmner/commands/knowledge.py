"""`gmner knowledge`: write a dataset split's auxiliary knowledge with our own LLM, resumably."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gmner.commands.train import DEFAULT_DATA_DIR


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "knowledge",
        help="write a split's LLM knowledge file with the NER service's knowledge step",
        description="Run the NER service's knowledge step (its prompt, in-context examples and LLM client; "
        "GMNER_LLM_* settings such as GMNER_LLM_API and GMNER_LLM_MODEL apply) over a Twitter-GMNER split and "
        "append each post's knowledge to --out in the dataset's <EOS> format. Resumable: a rerun continues "
        "after the posts already in --out. Use the file with `gmner train ner --llm-knowledge` or "
        "`benchmarks/bench_ner_mner.py --llm-knowledge-file`.",
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder with twitter-gmner-v2/")
    parser.add_argument("--split", default="train", choices=["train", "dev", "test"], help="default: train")
    parser.add_argument("--out", required=True, type=Path, help="knowledge file to write (appended to)")
    parser.add_argument(
        "--llm-url", default="http://127.0.0.1:8010/v1", help="OpenAI-compatible LLM server (default: gmner serve's)"
    )
    parser.add_argument("--limit", type=int, help="only the first N posts of the split")
    parser.add_argument("--time-budget-min", type=float, help="stop after this many minutes (rerun to continue)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gmner.training.data import load_split
    from gmner.training.llm_knowledge import generate_knowledge_file, service_knowledge

    if args.limit is not None and args.limit < 1:
        print("gmner knowledge: --limit must be at least 1", file=sys.stderr)
        return 2
    if args.time_budget_min is not None and args.time_budget_min < 0:
        print("gmner knowledge: --time-budget-min must be at least 0", file=sys.stderr)
        return 2
    try:
        posts = load_split(args.data_dir, args.split, knowledge=False).posts
    except (FileNotFoundError, ValueError) as exc:
        print(f"gmner knowledge: {exc}", file=sys.stderr)
        return 2
    posts = posts[: args.limit] if args.limit else posts
    budget = args.time_budget_min * 60 if args.time_budget_min is not None else None
    try:
        summary = generate_knowledge_file(posts, args.out, service_knowledge(args.llm_url), time_budget_s=budget)
    except ValueError as exc:
        print(f"gmner knowledge: {exc}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "out": str(args.out),
                "posts": summary.total,
                "already": summary.already,
                "written": summary.written,
                "failed": summary.failed,
                "done": summary.already + summary.written,
                "seconds": round(summary.seconds, 1),
                "seconds_per_post": round(summary.seconds_per_post, 2),
                "stopped_by_time_budget": summary.stopped_by_time_budget,
            }
        )
    )
    return 0
