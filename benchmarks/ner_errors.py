"""Where a tagger's MNER F1 goes: the error breakdown of issue 9, for one predictions file.

    .venv/bin/python benchmarks/ner_errors.py --data-dir ../shared/data --split test \
        --predictions var/mner/crf-knowledge.jsonl [--limit N] [--report errors.json]

The predictions are the JSONL that `benchmarks/bench_ner_mner.py --predictions-dir` writes (character offsets
into the post's words joined by spaces). Every gold entity that is not predicted exactly (span and type) is put
in one class, and so is every prediction that matches no gold entity:
- missed, no prediction over it at all; of those, how many the knowledge mentions (its name appears in the
  knowledge, compared as letters and digits only), how many are an exact item of the knowledge's
  `Named entities:` list, and how many follow `#` or `@`;
- right span, wrong type (with the most frequent gold → predicted pairs);
- boundary errors: a prediction overlaps the gold entity with other boundaries;
- spurious: a prediction overlapping no gold entity; of those, how many follow `#` or `@`.
Counts only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

Span = tuple[int, int, str]  # first word, one past the last word, type


def _overlaps(a: Span, start: int, end: int) -> bool:
    return a[0] < end and start < a[1]


def _after_hash_or_at(words: list[str], start: int) -> bool:
    return start > 0 and words[start - 1] in ("#", "@")


def breakdown(posts: list[Any], predicted: list[set[Span]]) -> dict[str, Any]:
    from engines.ner.knowledge_parsing import match_key, parse_knowledge
    from gmner.training.metrics import tag_spans

    counts: Counter[str] = Counter()
    confusions: Counter[str] = Counter()
    per_type_missed: Counter[str] = Counter()
    for post, guesses in zip(posts, predicted, strict=True):
        gold: set[Span] = set(tag_spans(post.tags))
        listed, knowledge = parse_knowledge(post.knowledge)
        listed_keys = {match_key(e.name) for e in listed}
        knowledge_key = match_key(knowledge)
        counts["gold"] += len(gold)
        counts["predicted"] += len(guesses)
        for span in gold - guesses:
            start, end, kind = span
            counts["missed"] += 1
            per_type_missed[kind] += 1
            overlapping = [g for g in guesses if _overlaps(g, start, end)]
            same_span = [g for g in overlapping if (g[0], g[1]) == (start, end)]
            if not overlapping:
                counts["missed_no_prediction"] += 1
                key = match_key(" ".join(post.words[start:end]))
                if key and key in knowledge_key:
                    counts["missed_no_prediction_in_knowledge"] += 1
                if key and key in listed_keys:
                    counts["missed_no_prediction_listed"] += 1
                if _after_hash_or_at(post.words, start):
                    counts["missed_no_prediction_after_hash_or_at"] += 1
            elif same_span:
                counts["wrong_type"] += 1
                confusions[f"{kind}->{same_span[0][2]}"] += 1
            else:
                counts["boundary"] += 1
        for start, end, _ in guesses - gold:
            if not any(_overlaps(g, start, end) for g in gold):
                counts["spurious"] += 1
                if _after_hash_or_at(post.words, start):
                    counts["spurious_after_hash_or_at"] += 1
    return {
        "counts": dict(counts),
        "missed_per_type": dict(per_type_missed),
        "wrong_type_pairs": dict(confusions.most_common(8)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--split", default="test", choices=["train", "dev", "test"])
    parser.add_argument("--predictions", type=Path, required=True, help="JSONL from bench_ner_mner.py")
    parser.add_argument("--limit", type=int, help="only the first N posts (as the predictions were made)")
    parser.add_argument("--report", type=Path, help="write the breakdown as JSON here")
    args = parser.parse_args(argv)

    from bench_ner_mner import _token_spans

    from gmner.training.data import load_split
    from shared.protocol.common import EntityType

    posts = load_split(args.data_dir, args.split, knowledge=True).posts
    if args.limit:
        posts = posts[: args.limit]
    by_id = {}
    for line in args.predictions.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        by_id[record["id"]] = record
    missing = [p.id for p in posts if p.id not in by_id]
    if missing:
        parser.error(f"{len(missing)} posts have no prediction (first: {missing[0]}); same --split and --limit?")

    class _Entity:
        def __init__(self, raw: dict[str, Any]) -> None:
            self.start, self.end, self.type = raw["start"], raw["end"], EntityType(raw["type"])

    predicted = [_token_spans(p.text, [_Entity(e) for e in by_id[p.id]["entities"]]) for p in posts]
    result = breakdown(posts, predicted)
    c = result["counts"]
    print(f"{args.predictions.name}: {len(posts)} posts, {c.get('gold', 0)} gold, {c.get('predicted', 0)} predicted")
    print(f"missed (not predicted exactly): {c.get('missed', 0)}  per type: {result['missed_per_type']}")
    print(
        f"  no prediction over it: {c.get('missed_no_prediction', 0)} "
        f"(in the knowledge {c.get('missed_no_prediction_in_knowledge', 0)}, "
        f"an exact list item {c.get('missed_no_prediction_listed', 0)}, "
        f"after #/@ {c.get('missed_no_prediction_after_hash_or_at', 0)})"
    )
    print(f"  right span, wrong type: {c.get('wrong_type', 0)}  {result['wrong_type_pairs']}")
    print(f"  boundary errors: {c.get('boundary', 0)}")
    spurious, after = c.get("spurious", 0), c.get("spurious_after_hash_or_at", 0)
    print(f"spurious (no gold entity overlapping): {spurious} (after #/@ {after})")
    if args.report is not None:
        args.report.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
