"""Which LLM server the embedded stack runs and with which command line (no process is started here)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from gmner.embedded.llm_server import (
    LLAMA_CPP_PYTHON,
    LLAMA_SERVER,
    LLMServerError,
    default_binary_path,
    find_llama_server,
    llama_cpp_version,
    llm_server_command,
)
from gmner.embedded.settings import EmbeddedSettings

MODEL = Path("/models/gemma.gguf")


def fake_binary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture(autouse=True)
def no_llama_server_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A llama-server on the developer's PATH must not decide these tests.
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))


def test_built_binary_is_the_default_with_slots_and_context(tmp_path: Path) -> None:
    # Where scripts/build_llama_server.sh puts it for the installed llama-cpp-python version.
    built = default_binary_path(tmp_path)
    assert built is not None and built.parts[-4:-2] == ("llama-server", llama_cpp_version())
    binary = fake_binary(built)
    settings = EmbeddedSettings(
        profile="fast", cache_dir=tmp_path, llm_port=9123, llm_context=1024, llm_parallel=3, llm_threads=2
    )
    assert find_llama_server(settings) == binary
    command = llm_server_command(settings, MODEL)
    assert command.kind == LLAMA_SERVER
    argv = command.argv
    assert argv[0] == str(binary)
    assert argv[argv.index("--model") + 1] == str(MODEL)
    assert argv[argv.index("--alias") + 1] == "gemma-3-270m"
    assert argv[argv.index("--port") + 1] == "9123"
    assert argv[argv.index("--parallel") + 1] == "3"
    assert argv[argv.index("--ctx-size") + 1] == "3072"  # every slot gets llm_context
    assert argv[argv.index("--threads") + 1] == "2"
    assert "--cont-batching" in argv
    assert "--swa-full" in argv  # without it gemma-3's slots re-read the shared few-shot prefix every call


def test_configured_binary_wins(tmp_path: Path) -> None:
    binary = fake_binary(tmp_path / "custom" / "llama-server")
    settings = EmbeddedSettings(cache_dir=tmp_path / "cache", llm_server_binary=binary)
    assert llm_server_command(settings, MODEL).argv[0] == str(binary)


def test_binary_on_path_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = fake_binary(tmp_path / "bin" / "llama-server")
    monkeypatch.setenv("PATH", str(binary.parent))
    assert find_llama_server(EmbeddedSettings(cache_dir=tmp_path / "cache")) == binary


def test_missing_binary_falls_back_with_a_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = EmbeddedSettings(cache_dir=tmp_path, llm_context=1024, llm_threads=1)
    with caplog.at_level(logging.WARNING, logger="gmner.embedded.llm_server"):
        command = llm_server_command(settings, MODEL)
    assert command.kind == LLAMA_CPP_PYTHON
    assert command.argv[:3] == [sys.executable, "-m", "llama_cpp.server"]
    assert command.argv[command.argv.index("--n_ctx") + 1] == "1024"
    assert any("falling back to llama-cpp-python" in r.getMessage() for r in caplog.records)


def test_non_executable_file_is_not_a_binary(tmp_path: Path) -> None:
    path = tmp_path / "llama-server"
    path.write_text("not a program")
    settings = EmbeddedSettings(cache_dir=tmp_path, llm_server_binary=path)
    assert llm_server_command(settings, MODEL).kind == LLAMA_CPP_PYTHON


def test_fallback_can_be_chosen_even_with_the_binary(tmp_path: Path) -> None:
    binary = fake_binary(tmp_path / "llama-server")
    settings = EmbeddedSettings(llm_server="llama-cpp-python", llm_server_binary=binary)
    assert llm_server_command(settings, MODEL).kind == LLAMA_CPP_PYTHON


def test_asking_for_llama_server_without_it_is_an_error(tmp_path: Path) -> None:
    settings = EmbeddedSettings(cache_dir=tmp_path, llm_server="llama-server")
    with pytest.raises(LLMServerError, match=r"build_llama_server\.sh"):
        llm_server_command(settings, MODEL)


def test_unknown_server_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        EmbeddedSettings(llm_server="vllm")


def test_env_selects_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GMNER_EMBEDDED_LLM_SERVER", "llama-cpp-python")
    monkeypatch.setenv("GMNER_EMBEDDED_LLM_PARALLEL", "2")
    settings = EmbeddedSettings()
    assert settings.llm_server == "llama-cpp-python" and settings.llm_parallel == 2
