"""Which OpenAI-compatible LLM server the embedded stack runs, and its command line.

llama.cpp's own `llama-server` (built at setup by scripts/build_llama_server.sh from the llama.cpp vendored in
the llama-cpp-python sdist) batches concurrent requests over parallel slots; llama-cpp-python's server answers
one request at a time. The built binary is the default; llama-cpp-python's server is the fallback when the
binary is missing (with a log line) or when asked for (`GMNER_EMBEDDED_LLM_SERVER=llama-cpp-python`).
"""

from __future__ import annotations

import logging
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from gmner.embedded.settings import EmbeddedSettings

logger = logging.getLogger(__name__)

LLAMA_SERVER = "llama-server"
LLAMA_CPP_PYTHON = "llama-cpp-python"


class LLMServerError(RuntimeError):
    """The requested LLM server cannot be started (e.g. `llama-server` asked for but not built)."""


@dataclass(frozen=True)
class LLMServerCommand:
    kind: str  # LLAMA_SERVER or LLAMA_CPP_PYTHON
    argv: list[str]


def llama_cpp_version() -> str | None:
    try:
        return metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        return None


def default_binary_path(cache_dir: Path, version: str | None = None) -> Path | None:
    """Where scripts/build_llama_server.sh puts the binary for the installed llama-cpp-python version."""
    version = version or llama_cpp_version()
    if version is None:
        return None
    return cache_dir / "llama-server" / version / "bin" / "llama-server"


def find_llama_server(settings: EmbeddedSettings) -> Path | None:
    """The configured binary, else the one built for this llama-cpp-python version, else one on PATH."""
    if settings.llm_server_binary is not None:
        path = Path(settings.llm_server_binary).expanduser()
        return path if _executable(path) else None
    built = default_binary_path(settings.cache_dir)
    if built is not None and _executable(built):
        return built
    on_path = shutil.which("llama-server")
    return Path(on_path) if on_path else None


def llm_server_command(settings: EmbeddedSettings, model_path: Path) -> LLMServerCommand:
    """The command that serves `model_path` on settings.host:settings.llm_port under the model alias."""
    choice = settings.llm_server
    if choice in ("auto", LLAMA_SERVER):
        binary = find_llama_server(settings)
        if binary is not None:
            return LLMServerCommand(LLAMA_SERVER, llama_server_argv(settings, binary, model_path))
        where = settings.llm_server_binary or default_binary_path(settings.cache_dir) or "PATH"
        if choice == LLAMA_SERVER:
            raise LLMServerError(
                f"llama-server not found at {where}; build it with scripts/build_llama_server.sh "
                "or set GMNER_EMBEDDED_LLM_SERVER=llama-cpp-python"
            )
        logger.warning(
            "llama-server not found at %s (build it with scripts/build_llama_server.sh); falling back to "
            "llama-cpp-python's server, which answers one request at a time",
            where,
        )
    return LLMServerCommand(LLAMA_CPP_PYTHON, llama_cpp_python_argv(settings, model_path))


def llama_server_argv(settings: EmbeddedSettings, binary: Path, model_path: Path) -> list[str]:
    slots = settings.llm_parallel
    return [
        str(binary),
        "--model",
        str(model_path),
        "--alias",
        settings.served_llm_alias,
        "--host",
        settings.host,
        "--port",
        str(settings.llm_port),
        # -c is the KV cache of all slots together; each slot gets llm_context, as llama-cpp-python's one does.
        "--ctx-size",
        str(settings.llm_context * slots),
        "--parallel",
        str(slots),
        "--cont-batching",
        "--threads",
        str(settings.llm_threads),
        "--threads-batch",
        str(settings.llm_threads),
        # gemma-3 uses sliding-window attention; with the default SWA cache a slot cannot reuse the prompt prefix
        # it already holds, so the ~250-token few-shot prefix of every expansion prompt was decoded again each
        # time (measured: 263 prompt tokens per call, against 8 with --swa-full; 3.2 s -> 1.0 s per call).
        "--swa-full",
        # Prompt tokens, generated tokens and busy slots per decode, for the benchmarks and operators.
        "--metrics",
        # The API is what the stages use; the web UI is not built (no download at build time).
        "--no-webui",
    ]


def llama_cpp_python_argv(settings: EmbeddedSettings, model_path: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--model_alias",
        settings.served_llm_alias,
        "--host",
        settings.host,
        "--port",
        str(settings.llm_port),
        "--n_ctx",
        str(settings.llm_context),
        "--n_threads",
        str(settings.llm_threads),
    ]


def _executable(path: Path) -> bool:
    return path.is_file() and path.stat().st_mode & 0o111 != 0
