"""Starts and stops the embedded stack: Redis (if none runs), the LLM server, the stages, the gateway."""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from gmner.embedded.llm_model import ModelAssemblyError, bundled_llm
from gmner.embedded.llm_server import LLMServerError, llm_server_command
from gmner.embedded.logfiles import open_log, tail_block
from gmner.embedded.settings import EmbeddedSettings
from shared.app_registry import APPS, STAGES

logger = logging.getLogger(__name__)


# Seconds a stopping app gives the requests in flight to finish before it cancels them (see `_app_launch`).
GRACEFUL_SHUTDOWN_S = 1


class StackError(RuntimeError):
    pass


@dataclass
class ManagedProcess:
    name: str
    process: subprocess.Popen[bytes]
    ready_url: str
    log: IO[bytes] | None
    # What it was started with, so the supervisor can start it again the same way.
    command: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    restarts: int = 0
    # Exit times of recent crashes (monotonic), to tell a crash loop from an occasional crash.
    crashes: list[float] = field(default_factory=list)
    restart_at: float | None = None
    quiet: bool = False  # output to /dev/null when there is no log file (Redis)
    log_path: Path | None = None
    # When it was (re)started (monotonic), for the load time of its ready line; whether that line was written.
    started_at: float = field(default_factory=time.monotonic)
    ready: bool = False


@dataclass(frozen=True)
class AppLaunch:
    """One app process the stack starts: what `_spawn` is given."""

    name: str
    port: int
    command: list[str]
    ready_url: str


@dataclass(frozen=True)
class RestartPolicy:
    """Backoff between restarts doubles from `backoff_s` up to `max_backoff_s`; `crash_loop_restarts` exits
    within `crash_loop_window_s` mean the process cannot stay up, and the stack stops."""

    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    crash_loop_restarts: int = 5
    crash_loop_window_s: float = 120.0


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        return sock.connect_ex((host, port)) == 0


def answers_ready(url: str, timeout_s: float = 2.0) -> bool:
    """Whether GET `url` answers 200. http.client, not httpx: httpx logs each request, i.e. every poll."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s)
    try:
        connection.request("GET", parts.path or "/")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


class EmbeddedStack:
    """Context manager: `with EmbeddedStack(settings) as stack: ...` starts everything and waits for /ready."""

    def __init__(
        self,
        settings: EmbeddedSettings,
        *,
        extra_env: dict[str, str] | None = None,
        restart_policy: RestartPolicy | None = None,
    ) -> None:
        unknown = set(settings.stages) - set(STAGES)
        if unknown:
            raise StackError(f"unknown stages {sorted(unknown)}; choose from {STAGES}")
        self.settings = settings
        self.extra_env = extra_env or {}
        self.restart_policy = restart_policy or RestartPolicy()
        self.processes: list[ManagedProcess] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.supervisor_error: StackError | None = None

    @property
    def gateway_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.gateway_port}"

    def url(self, stage: str) -> str:
        return f"http://{self.settings.host}:{self.settings.stage_port(stage)}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.settings.host}:{self.settings.redis_port}/0"

    @property
    def llm_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.llm_port}/v1"

    def __enter__(self) -> EmbeddedStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        s = self.settings
        self._ensure_redis()
        try:
            model_path = (
                Path(s.llm_model_path) if s.llm_model_path else bundled_llm(s.bundled_llm_name).path(s.cache_dir)
            )
            llm = llm_server_command(s, model_path)
        except (ModelAssemblyError, LLMServerError) as exc:
            raise StackError(str(exc)) from exc
        logger.info("LLM server: %s", llm.kind)
        self._spawn("llm", llm.argv, f"{self.llm_url}/models")
        for launch in self.app_launches():
            self._spawn(launch.name, launch.command, launch.ready_url)
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.ready_timeout_s
        pending = [p for p in self.processes if p.ready_url and not p.ready]
        # One line per process when it becomes ready, none per poll.
        while pending:
            for proc in list(pending):
                if proc.process.poll() is not None:
                    raise StackError(f"{proc.name} exited with {proc.process.returncode}; {self._log_hint(proc)}")
                if answers_ready(proc.ready_url):
                    pending.remove(proc)
                    proc.ready = True
                    where = f" (log: {proc.log_path})" if proc.log_path else ""
                    logger.info("%s ready in %.1f s%s", proc.name, time.monotonic() - proc.started_at, where)
            if pending and time.monotonic() > deadline:
                hints = "\n".join(f"{p.name}: {self._log_hint(p)}" for p in pending)
                names = ", ".join(p.name for p in pending)
                raise StackError(f"not ready after {self.settings.ready_timeout_s:.0f}s: {names}\n{hints}")
            if pending:
                time.sleep(0.5)

    def check(self) -> list[str]:
        """One supervision step: restart processes that exited, with backoff. Returns the names restarted.

        Raises `StackError` when a process crash-loops. The others keep serving meanwhile: the gateway answers
        without a visual stage (degraded) and with 503 + Retry-After while NER is down.
        """
        restarted: list[str] = []
        policy = self.restart_policy
        with self._lock:
            if self._stopping.is_set():
                return restarted
            now = time.monotonic()
            for proc in self.processes:
                if proc.process.poll() is None:
                    continue
                if proc.restart_at is None:
                    proc.crashes = [t for t in proc.crashes if now - t < policy.crash_loop_window_s] + [now]
                    if len(proc.crashes) > policy.crash_loop_restarts:
                        raise StackError(
                            f"{proc.name} exited {len(proc.crashes)} times within {policy.crash_loop_window_s:.0f}s "
                            f"(last code {proc.process.returncode}); {self._log_hint(proc)}"
                        )
                    delay = min(policy.max_backoff_s, policy.backoff_s * 2 ** (len(proc.crashes) - 1))
                    proc.restart_at = now + delay
                    logger.warning(
                        "%s exited with %s; restarting in %.0fs; %s",
                        proc.name,
                        proc.process.returncode,
                        delay,
                        self._log_hint(proc),
                    )
                    continue
                if now < proc.restart_at:
                    continue
                if proc.log is not None:
                    proc.log.close()
                    proc.log = self._open_log(proc.name, fresh=False)
                proc.started_at, proc.ready = time.monotonic(), False
                proc.process = subprocess.Popen(
                    proc.command,
                    env=proc.env,
                    stdout=proc.log or (subprocess.DEVNULL if proc.quiet else None),
                    stderr=subprocess.STDOUT if proc.log else None,
                )
                proc.restarts += 1
                proc.restart_at = None
                restarted.append(proc.name)
                logger.warning("%s restarted (pid %d, restart %d)", proc.name, proc.process.pid, proc.restarts)
        return restarted

    def supervise(self, interval_s: float = 0.5) -> None:
        """Run `check` in a background thread until `stop`; a crash loop is kept in `supervisor_error`."""

        def loop() -> None:
            while not self._stopping.wait(interval_s):
                try:
                    self.check()
                except StackError as exc:
                    logger.error("%s", exc)
                    self.supervisor_error = exc
                    return

        self._supervisor = threading.Thread(target=loop, name="gmner-supervisor", daemon=True)
        self._supervisor.start()

    def restarts(self) -> dict[str, int]:
        return {proc.name: proc.restarts for proc in self.processes}

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout=10)
        with self._lock:
            self._stop_processes()

    def _stop_processes(self) -> None:
        for proc in reversed(self.processes):
            if proc.process.poll() is None:
                proc.process.terminate()
        for proc in reversed(self.processes):
            try:
                proc.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.process.kill()
                proc.process.wait(timeout=5)
            if proc.log is not None:
                proc.log.close()
        self.processes.clear()

    def _env(self) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env.update(
            {
                "GMNER_LLM_BASE_URL": self.llm_url,
                "GMNER_LLM_MODEL": s.served_llm_alias,
                "GMNER_LLM_API": s.served_llm_api,
                "GMNER_LLM_REDIS_URL": self.redis_url,
                # The profile's knowledge default and prompt form (EmbeddedSettings.stage_env).
                **s.stage_env(),
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false",
            }
        )
        for stage in STAGES:
            # A stage the gateway can do without is "not deployed" when not started; the others are always wired.
            deployed = stage in s.stages or not APPS[stage].optional
            env[f"{APPS['gateway'].env_prefix}{stage.upper()}_URL"] = self.url(stage) if deployed else ""
        # glibc gives each thread that allocates its own arena (up to 8 per core) and keeps what was freed in it:
        # with 16 torch threads, VE held 444 MB after one request with the default, 344 MB with 2 arenas
        # (benchmarks/bench_memory.py, docs/benchmarks.md). A value set by the user wins.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        env.update(self.extra_env)
        return env

    def app_launches(self) -> list[AppLaunch]:
        """The apps to start, in the registry's order (the stages chosen in the settings, then the gateway)."""
        chosen = set(self.settings.stages) | {"gateway"}
        return [self._app_launch(name) for name in APPS if name in chosen]

    def _app_launch(self, name: str) -> AppLaunch:
        host, port = self.settings.host, self.settings.stage_port(name)
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            APPS[name].factory,
            "--factory",
            "--host",
            host,
            "--port",
            str(port),
            "--no-access-log",
            # h11 with a header read timeout (GMNER_HEADER_TIMEOUT_S): uvicorn alone waits forever for headers.
            "--http",
            "shared.server:TimedH11Protocol",
            # On Ctrl-C or SIGTERM, uvicorn otherwise waits for every request in flight, however long its LLM
            # calls take (30-40 s before). After this grace it cancels them: each app's cancellation
            # (shared/cancellation.py) closes its calls to the stages and the LLM, which stop their work too.
            "--timeout-graceful-shutdown",
            str(GRACEFUL_SHUTDOWN_S),
        ]
        return AppLaunch(name, port, command, f"{APPS[name].url(host, port)}/ready")

    def _spawn(self, name: str, command: list[str], ready_url: str) -> None:
        host_port = ready_url.split("//", 1)[1].split("/", 1)[0]
        host, port = host_port.rsplit(":", 1)
        if port_open(host, int(port)):
            raise StackError(f"port {port} for {name} is already in use; set GMNER_EMBEDDED_{name.upper()}_PORT")
        log = self._open_log(name, fresh=True)
        env = self._env()
        process = subprocess.Popen(command, env=env, stdout=log or None, stderr=subprocess.STDOUT if log else None)
        self.processes.append(
            ManagedProcess(name, process, ready_url, log, command=list(command), env=env, log_path=self._log_path(name))
        )

    def _log_path(self, name: str) -> Path | None:
        logs = self.settings.logs_path
        return logs / f"{name}.log" if logs is not None else None

    def _open_log(self, name: str, *, fresh: bool) -> IO[bytes] | None:
        logs = self.settings.logs_path
        return open_log(logs, name, fresh=fresh) if logs is not None else None

    def _ensure_redis(self) -> None:
        s = self.settings
        if port_open(s.host, s.redis_port):
            return
        server = shutil.which("redis-server")
        if server is None:
            logger.warning("no Redis at %s and no redis-server binary: the LLM cache is off", self.redis_url)
            return
        command = [server, "--bind", s.host, "--port", str(s.redis_port), "--save", "", "--appendonly", "no"]
        log = self._open_log("redis", fresh=True)
        # Streaming mode leaves Redis out: its banner is noise to anyone debugging the stages.
        process = subprocess.Popen(command, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT if log else None)
        self.processes.append(
            ManagedProcess("redis", process, "", log, command=command, quiet=True, log_path=self._log_path("redis"))
        )
        for _ in range(50):
            if port_open(s.host, s.redis_port):
                return
            time.sleep(0.1)
        raise StackError(f"redis-server did not start on port {s.redis_port}")

    def _log_hint(self, proc: ManagedProcess) -> str:
        """Where to look, with the log's last lines: the terminal shows nothing else of a child's output."""
        if proc.log is not None:
            proc.log.flush()
        if proc.log_path is None:
            return "see its output above"
        return tail_block(proc.log_path)
