"""`gmner examples import`: turn the PGIM/RiVEG hand-written examples into a bank for the NER service."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("examples", help="manage the knowledge step's in-context example bank")
    actions = parser.add_subparsers(dest="action", required=True)
    imp = actions.add_parser(
        "import",
        help="build a JSONL bank from icl-examples/<year>/<year>train.txt + the CoNLL split holding the texts",
    )
    imp.add_argument("--icl", type=Path, required=True, action="append", help="an icl-examples *train.txt file")
    imp.add_argument("--conll", type=Path, required=True, action="append", help="the CoNLL file with its texts")
    imp.add_argument("--captions", type=Path, action="append", help="BLIP-2 caption file(s), optional")
    imp.add_argument("--out", type=Path, required=True)
    imp.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from engines.ner.knowledge.pgim_import import import_pgim_examples, write_bank

    if len(args.icl) != len(args.conll) or (args.captions and len(args.captions) != len(args.icl)):
        raise SystemExit("give one --conll (and --captions, if any) per --icl, in the same order")
    examples = []
    for index, icl in enumerate(args.icl):
        captions = args.captions[index] if args.captions else None
        examples.extend(import_pgim_examples(icl, args.conll[index], captions))
    write_bank(examples, args.out)
    print(f"wrote {len(examples)} examples to {args.out}; use it with GMNER_NER_EXAMPLES_PATH={args.out}")
    return 0
