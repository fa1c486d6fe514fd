"""Where the embedded stack's children write, on real processes: their output goes to `<log dir>/<name>.log`,
the terminal gets one ready line per process, and a process that fails shows its log's last lines there."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmner.embedded.logfiles import open_log, tail
from gmner.embedded.settings import EmbeddedSettings
from gmner.embedded.stack import EmbeddedStack, RestartPolicy, StackError
from tests.conftest import free_port

FAST = RestartPolicy(backoff_s=0.1, max_backoff_s=0.5, crash_loop_restarts=3, crash_loop_window_s=60)
STACK_LOGGER = "gmner.embedded.stack"

# Prints a banner, then serves HTTP (http.server writes a line to stderr for every request, i.e. every poll).
SERVER = (
    "import sys, http.server\n"
    "print('banner of {name}', flush=True)\n"
    "http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, port={port}, bind='127.0.0.1')\n"
)


def _stack(tmp_path: Path, **settings: object) -> EmbeddedStack:
    return EmbeddedStack(EmbeddedSettings(stages=[], **settings), restart_policy=FAST)  # type: ignore[arg-type]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[EmbeddedStack]:
    running = _stack(tmp_path, log_dir=tmp_path / "logs")
    try:
        yield running
    finally:
        running.stop()


def _server(stack: EmbeddedStack, name: str) -> None:
    port = free_port()
    code = SERVER.format(name=name, port=port)
    stack._spawn(name, [sys.executable, "-u", "-c", code], f"http://127.0.0.1:{port}/")


def _ready_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == STACK_LOGGER and " ready in " in r.getMessage()]


def test_output_goes_to_log_files_and_the_terminal_gets_one_ready_line_each(
    stack: EmbeddedStack, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    _server(stack, "first")
    _server(stack, "second")
    stack.wait_ready()
    stack.wait_ready()  # polled again: still no line per poll

    lines = _ready_lines(caplog)
    assert sorted(line.split()[0] for line in lines) == ["first", "second"]
    for line in lines:
        name = line.split()[0]
        assert f"(log: {tmp_path / 'logs' / name}.log)" in line
        assert float(line.split(" ready in ")[1].split(" s")[0]) >= 0
    assert not [r for r in caplog.records if r.name.startswith(("httpx", "httpcore", "urllib3"))]
    terminal = capfd.readouterr()
    assert "banner of" not in terminal.out + terminal.err
    stack.stop()
    for name in ("first", "second"):
        log = (tmp_path / "logs" / f"{name}.log").read_text()
        assert f"banner of {name}" in log
        assert "GET / HTTP" in log  # the polls' access lines are in the file, not on the terminal


def test_a_process_that_exits_before_ready_shows_its_last_lines(stack: EmbeddedStack, tmp_path: Path) -> None:
    code = "import sys\nfor i in range(100): print('line', i)\nsys.exit('boom: no model at /nowhere')"
    stack._spawn("broken", [sys.executable, "-c", code], f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(StackError) as raised:
        stack.wait_ready()
    message = str(raised.value)
    assert "broken exited with 1" in message
    assert "boom: no model at /nowhere" in message
    assert f"last lines of {tmp_path / 'logs' / 'broken.log'}" in message
    assert "line 99" in message and "line 10\n" not in message  # a tail, not the whole log


def test_a_process_not_ready_in_time_shows_its_last_lines(tmp_path: Path) -> None:
    stack = _stack(tmp_path, log_dir=tmp_path, ready_timeout_s=1.0)
    code = "import time\nprint('still loading the model', flush=True)\ntime.sleep(60)"
    try:
        stack._spawn("slow", [sys.executable, "-c", code], f"http://127.0.0.1:{free_port()}/")
        with pytest.raises(StackError, match=r"not ready after 1s: slow") as raised:
            stack.wait_ready()
        assert "still loading the model" in str(raised.value)
    finally:
        stack.stop()


def test_a_crash_while_serving_logs_the_tail_and_restarts_into_the_same_log(
    stack: EmbeddedStack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    code = "import time\nprint('run', time.time(), flush=True)\ntime.sleep(0.2)\nraise SystemExit('fatal: lost it')"
    stack._spawn("flaky", [sys.executable, "-c", code], f"http://127.0.0.1:{free_port()}/")
    deadline = time.monotonic() + 60
    while stack.restarts()["flaky"] < 1:
        assert time.monotonic() < deadline, "not restarted"
        stack.check()
        time.sleep(0.05)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == STACK_LOGGER]
    assert any("flaky exited with 1" in w and "fatal: lost it" in w for w in warnings)
    assert any("flaky restarted" in w for w in warnings)
    deadline = time.monotonic() + 30
    while (tmp_path / "logs" / "flaky.log").read_text().count("run ") < 2:
        assert time.monotonic() < deadline, "the restart did not write to the same log"
        time.sleep(0.05)
    assert not (tmp_path / "logs" / "flaky.log.1").exists()


def test_streaming_mode_writes_no_files(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    stack = _stack(tmp_path, cache_dir=tmp_path, stream_output=True)
    try:
        _server(stack, "loud")
        stack.wait_ready()
        stack.stop()
        assert "banner of loud" in capfd.readouterr().out
        assert not (tmp_path / "logs").exists()
    finally:
        stack.stop()


def test_default_log_dir_is_under_the_cache_dir(tmp_path: Path) -> None:
    assert EmbeddedSettings(cache_dir=tmp_path).logs_path == tmp_path / "logs"
    assert EmbeddedSettings(cache_dir=tmp_path, log_dir=tmp_path / "x").logs_path == tmp_path / "x"
    assert EmbeddedSettings(cache_dir=tmp_path, stream_output=True).logs_path is None


def test_a_new_run_keeps_the_previous_log_and_a_tail_is_bounded(tmp_path: Path) -> None:
    with open_log(tmp_path, "ner", fresh=True) as log:
        log.write(b"first run\n")
    with open_log(tmp_path, "ner", fresh=False) as log:
        log.write(b"after a restart\n")
    with open_log(tmp_path, "ner", fresh=True) as log:
        log.write(b"second run\n" + b"".join(b"progress %d\r" % i for i in range(100)))
    assert (tmp_path / "ner.log.1").read_text() == "first run\nafter a restart\n"
    assert tail(tmp_path / "ner.log", 3) == ["progress 97", "progress 98", "progress 99"]
    assert tail(tmp_path / "missing.log") == []


def test_children_get_few_malloc_arenas_unless_the_user_chose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert _stack(tmp_path)._env()["MALLOC_ARENA_MAX"] == "2"
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert _stack(tmp_path)._env()["MALLOC_ARENA_MAX"] == "8"


def test_gmner_serve_prints_the_failing_process_log_tail_not_its_output(tmp_path: Path) -> None:
    """The real command: an LLM server that cannot load its model stops the start, and the terminal shows why."""
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"this is not a GGUF file")
    env = dict(os.environ) | {
        f"GMNER_EMBEDDED_{name.upper()}_PORT": str(free_port()) for name in ("gateway", "ner", "llm")
    }
    env["GMNER_EMBEDDED_LLM_MODEL_PATH"] = str(bogus)
    command = [sys.executable, "-m", "gmner.cli", "serve", "--stages", "ner", "--log-dir", str(tmp_path / "logs")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert f"each process writes to {tmp_path / 'logs'}/<name>.log" in done.stdout
    assert "llm exited with" in done.stderr
    assert f"last lines of {tmp_path / 'logs' / 'llm.log'}" in done.stderr
    assert "failed to load model" in done.stderr.lower()  # the server's own reason, from its log's tail
    first_line = (tmp_path / "logs" / "llm.log").read_text(errors="replace").strip().splitlines()[0]
    assert first_line not in done.stdout  # its output went to the file, not the terminal
