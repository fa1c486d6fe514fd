"""`gmner keys new NAME --file F`: make an API key for the gateway and add its hash to the keys file."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="make API keys for the gateway (GMNER_GATEWAY_API_KEYS_FILE)",
        description="The key is printed once; the file keeps only `name:sha256(key)`. Revoke: delete the line.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    new = actions.add_parser("new", help="make a key named NAME and append its hash to FILE")
    new.add_argument("name", help="who the key is for (it appears in the gateway's logs and metrics)")
    new.add_argument("--file", "-f", type=Path, required=True, help="the keys file (created if missing)")
    new.set_defaults(func=run_new)


def run_new(args: argparse.Namespace) -> int:
    from shared.auth import hash_key, new_key, parse_keys

    name = args.name.strip()
    if not name or any(c in name for c in ":\n\r"):
        print("gmner keys: a name must be non-empty and contain no ':' or newline", file=sys.stderr)
        return 2
    existing = parse_keys(args.file.read_text()) if args.file.exists() else {}
    if name in existing.values():
        print(f"gmner keys: {name} already has a key in {args.file}; delete its line to revoke it", file=sys.stderr)
        return 1
    key = new_key()
    args.file.parent.mkdir(parents=True, exist_ok=True)
    with args.file.open("a") as out:
        out.write(f"{name}:{hash_key(key)}\n")
    os.chmod(args.file, 0o600)
    print(key)
    print(f"added {name} to {args.file}; the key above is not stored anywhere, keep it now", file=sys.stderr)
    return 0
