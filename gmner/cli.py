"""Entry point of the `gmner` console script. Subcommands live in `gmner.commands.<name>`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import gmner.commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gmner", description="Grounded multimodal NER service tools.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for info in sorted(pkgutil.iter_modules(gmner.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"gmner.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
