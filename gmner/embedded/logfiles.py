"""The children's log files of the embedded stack: one `<name>.log` per process, the previous run's kept."""

from __future__ import annotations

from pathlib import Path
from typing import IO

# Enough to show a traceback; a tail longer than a screen hides the message it ends with.
TAIL_LINES = 20
_TAIL_BYTES = 64 * 1024


def open_log(log_dir: Path, name: str, *, fresh: bool) -> IO[bytes]:
    """`fresh` (a new run): the last run's log becomes `<name>.log.1`; else (a restart) append to this run's."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / f"{name}.log"
    if fresh and path.exists():
        path.replace(path.with_name(f"{name}.log.1"))
    return path.open("ab")


def tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last `lines` lines of a log file; none when it does not exist."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - _TAIL_BYTES))
            data = handle.read()
    except OSError:
        return []
    text = data.decode("utf-8", errors="replace").replace("\r", "\n")
    return [line for line in text.splitlines() if line.strip()][-lines:]


def tail_block(path: Path, lines: int = TAIL_LINES) -> str:
    """The tail, indented under a header, to append to an error message."""
    last = tail(path, lines)
    if not last:
        return f"{path} is empty"
    return f"last lines of {path}:\n" + "\n".join(f"    {line}" for line in last)
