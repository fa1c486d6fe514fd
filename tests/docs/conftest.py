"""The documentation's generator (scripts/gen_docs_reference.py), loaded by path: scripts/ is not a package."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def load_generator() -> ModuleType:
    path = REPO_ROOT / "scripts" / "gen_docs_reference.py"
    spec = importlib.util.spec_from_file_location("gen_docs_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def gen() -> ModuleType:
    return load_generator()
