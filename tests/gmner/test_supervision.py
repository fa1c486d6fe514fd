"""The embedded stack's supervisor, on real processes: a killed process is restarted and answers again while
the others keep answering; a process that keeps exiting stops the stack instead of restarting forever."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gmner.embedded.settings import EmbeddedSettings
from gmner.embedded.stack import EmbeddedStack, RestartPolicy, StackError
from tests.conftest import free_port

FAST = RestartPolicy(backoff_s=0.1, max_backoff_s=0.5, crash_loop_restarts=3, crash_loop_window_s=60)


def _http_server(stack: EmbeddedStack, name: str) -> str:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    stack._spawn(name, [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], url)
    return url


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[EmbeddedStack]:
    running = EmbeddedStack(EmbeddedSettings(stages=[], log_dir=tmp_path), restart_policy=FAST)
    try:
        yield running
    finally:
        running.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_killed_process_is_restarted_and_the_others_keep_serving(stack: EmbeddedStack) -> None:
    first, second = _http_server(stack, "first"), _http_server(stack, "second")
    stack.wait_ready()
    victim = stack.processes[0]
    old_pid = victim.process.pid
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(timeout=10)
    assert not _answers(first)
    other_answers = []
    deadline = time.monotonic() + 60
    while not (victim.process.pid != old_pid and _answers(first)):
        assert time.monotonic() < deadline, "not restarted"
        stack.check()
        other_answers.append(_answers(second))
        time.sleep(0.1)
    assert all(other_answers)
    assert stack.restarts() == {"first": 1, "second": 0}
    assert stack.processes[1].process.poll() is None


def test_a_crash_loop_stops_the_stack(stack: EmbeddedStack) -> None:
    stack._spawn("broken", [sys.executable, "-c", "raise SystemExit(3)"], f"http://127.0.0.1:{free_port()}/")
    deadline = time.monotonic() + 60
    with pytest.raises(StackError, match="broken exited 4 times"):
        while time.monotonic() < deadline:
            stack.check()
            time.sleep(0.05)
    assert stack.restarts()["broken"] == 3


def test_the_background_supervisor_restarts(stack: EmbeddedStack) -> None:
    url = _http_server(stack, "only")
    stack.wait_ready()
    stack.supervise(interval_s=0.1)
    stack.processes[0].process.kill()
    deadline = time.monotonic() + 60
    while not (stack.restarts()["only"] == 1 and _answers(url)):
        assert time.monotonic() < deadline, "not restarted"
        time.sleep(0.1)
    assert stack.supervisor_error is None
