"""Fixtures shared by the stage tests: the test photographs as base64 (built once per session)."""

from __future__ import annotations

import pytest

from tests.visual_testing import astronaut, b64, coffee, png_bytes


@pytest.fixture(scope="session")
def astronaut_b64() -> str:
    return b64(png_bytes(astronaut()))


@pytest.fixture(scope="session")
def coffee_b64() -> str:
    return b64(png_bytes(coffee()))
