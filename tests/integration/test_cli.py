"""`gmner predict` and the Python client on real requests to the embedded stack (every stage a real process)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gateway.overlay import entity_colour
from gmner.client import AsyncGMNERClient, GMNERAPIError, GMNERClient
from gmner.embedded.stack import EmbeddedStack
from shared.protocol.gateway import GMNERResponse, Task
from tests.integration.conftest import visual
from tests.integration.test_browser import POST

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skimage import data

    path = tmp_path_factory.mktemp("images") / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(path, quality=92)
    return path


def gmner(*args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    # COLUMNS: rich sizes its table to the terminal; a pipe has none, and 80 columns would fold every cell.
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "gmner.cli", *args], capture_output=True, text=True, timeout=timeout_s, env=env
    )


def person(answer: GMNERResponse) -> int:
    found = [i for i, e in enumerate(answer.entities) if e.type.value == "PER" and "Collins" in e.text]
    assert found, f"no PER entity for Eileen Collins in {answer.entities}"
    return found[0]


def test_predict_json_and_overlay(stack: EmbeddedStack, astronaut: Path, tmp_path: Path) -> None:
    out = tmp_path / "overlay.png"
    done = gmner("predict", "--url", stack.gateway_url, "--text", POST, "--image", str(astronaut), "--json",
                 "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = GMNERResponse.model_validate(json.loads(done.stdout))  # stdout is pure JSON, even with --out
    assert f"overlay saved to {out}" in done.stderr
    index = person(answer)
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.size == (512, 512)
        pixels = np.asarray(image.convert("RGB")).astype(int)
    if visual(stack.settings.stages):
        entity = answer.entities[index]
        assert entity.groundable is True
        assert entity.box is not None
        assert entity.mask is not None
        x1, y1, _, y2 = entity.box
        assert np.abs(pixels[int((y1 + y2) / 2), int(x1) + 1] - np.array(entity_colour(index))).max() <= 2


def test_predict_prints_a_table(stack: EmbeddedStack, astronaut: Path) -> None:
    done = gmner("predict", "--url", stack.gateway_url, "--text", POST, "--image", str(astronaut), "--task", "gmner")
    assert done.returncode == 0, done.stderr
    assert "Eileen Collins" in done.stdout
    assert "PER" in done.stdout
    assert "task gmner" in done.stdout
    if visual(stack.settings.stages):
        assert "yes" in done.stdout  # groundable


def test_predict_reports_an_api_error(stack: EmbeddedStack, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    done = gmner("predict", "--url", stack.gateway_url, "--text", POST, "--image", str(notes))
    assert done.returncode == 1
    assert "415 not_an_image" in done.stderr
    assert "not a recognised image" in done.stderr


def test_predict_without_a_gateway_says_so(tmp_path: Path) -> None:
    from tests.conftest import closed_port_url

    done = gmner("predict", "--url", closed_port_url(), "--text", POST, "--retries", "0", timeout_s=60)
    assert done.returncode == 1
    assert "is the gateway running?" in done.stderr


def test_sync_client_against_the_stack(stack: EmbeddedStack, astronaut: Path) -> None:
    with GMNERClient(stack.gateway_url) as client:
        assert client.ready()
        answer = client.predict(POST, image=astronaut, tasks=Task.MNER)
        assert answer.tasks is Task.MNER
        person(answer)
        png = client.overlay(POST, image=astronaut, tasks=Task.GMNER)
        with Image.open(io.BytesIO(png)) as image:
            assert image.format == "PNG"
            assert image.size == (512, 512)
        with pytest.raises(GMNERAPIError) as caught:
            client.predict("")
        assert caught.value.status == 422
        assert caught.value.code == "invalid_request"


async def test_async_client_against_the_stack(stack: EmbeddedStack, astronaut: Path) -> None:
    async with AsyncGMNERClient(stack.gateway_url) as client:
        answer = await client.predict(POST, image=astronaut.read_bytes(), tasks="smner")
        index = person(answer)
        if visual(stack.settings.stages):
            assert answer.entities[index].mask is not None
        with pytest.raises(GMNERAPIError) as caught:
            await client.predict(POST, image=b"GIF89a but not really")
        assert caught.value.status in (400, 415)
