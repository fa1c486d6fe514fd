"""Fixtures of the VE tests: the embedded faces app (loaded once per module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.ve.app import create_app
from services.ve.settings import VESettings


@pytest.fixture(scope="module")
def faces_client() -> Iterator[TestClient]:
    with TestClient(create_app(VESettings(backend="faces", log_json=False, torch_threads=1))) as client:
        yield client
