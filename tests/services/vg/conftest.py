"""Fixtures of the VG tests; helpers shared with the VE tests live in tests/visual_testing.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.vg.app import create_app
from services.vg.settings import VGSettings


@pytest.fixture(scope="module")
def faces_client() -> Iterator[TestClient]:
    with TestClient(create_app(VGSettings(backend="faces", log_json=False, torch_threads=1))) as client:
        yield client
