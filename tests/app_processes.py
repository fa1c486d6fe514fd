"""A real app process for the tests that need one (uvicorn in a subprocess, its output in a log file)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def app_process(
    command: list[str], *, url: str, env: dict[str, str], log_path: Path, probe: str = "/ready", start_s: float = 180
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs `command` until the block ends; yields once `url + probe` answers 200. A process that exits or does not
    answer within `start_s` raises with the end of its log."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + start_s
            while True:
                try:
                    if httpx.get(f"{url}{probe}", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command} did not start: {log_path.read_text(errors='replace')[-3000:]}")
                time.sleep(0.1)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
