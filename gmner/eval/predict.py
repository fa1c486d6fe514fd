"""Run a dataset split through a running gateway and write prediction JSONL (`gmner predict-dataset`).

Requests go to `POST {gateway}/v1/gmner` with a JSON body (`GMNERJSONRequest`), at most `concurrency` at a time.
The run is resumable: each answer is appended to the output as one line and flushed to disk before the next is
written, ids already in the output are skipped, and a line cut short by a crash is dropped (that post is asked
again). Failed requests are not written, so a later run retries them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from gmner.eval.gold import read_conll, split_file
from gmner.eval.knowledge import KnowledgeFile, read_captions, read_knowledge

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")
RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass(slots=True)
class PredictConfig:
    dataset_dir: Path
    split: str
    output: Path
    gateway: str = "http://127.0.0.1:8000"
    images_dir: Path | None = None
    tasks: str | None = None  # None: gmner when there are images, mner without
    knowledge_file: Path | None = None
    captions_file: Path | None = None
    use_knowledge: bool | None = None
    concurrency: int = 8
    timeout_s: float = 120.0
    retries: int = 2
    backoff_s: float = 0.5
    limit: int | None = None
    progress: bool = True
    api_key: str | None = None  # None: $GMNER_API_KEY, if set


@dataclass(slots=True)
class PredictSummary:
    tasks: str
    total: int = 0
    skipped: int = 0  # already in the output
    written: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    missing_images: int = 0
    missing_knowledge: int = 0
    dropped_partial_line: bool = False


def load_done_ids(path: Path) -> tuple[set[str], bool]:
    """Ids already in an output file, after dropping a last line cut short by a crash (returns whether it did)."""
    if not path.exists():
        return set(), False
    dropped = False
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            # The last write never completed: cut it off so the next append starts on a fresh line.
            keep = data.rfind(b"\n") + 1
            f.truncate(keep)
            data = data[:keep]
            dropped = True
    done: set[str] = set()
    for line in data.decode("utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "id" in record and "entities" in record:
            done.add(str(record["id"]))
    return done, dropped


def find_image(images_dir: Path, post_id: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        candidate = images_dir / f"{post_id}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _read_b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _make_progress(enabled: bool, total: int) -> Callable[[], None] | None:
    if not enabled or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    bar = tqdm(total=total, desc="predicting", file=sys.stderr, dynamic_ncols=True)

    def advance() -> None:
        bar.update(1)

    return advance


async def run_async(
    cfg: PredictConfig, transport: httpx.AsyncBaseTransport | None = None, log: TextIO | None = None
) -> PredictSummary:
    log = log if log is not None else sys.stderr
    tasks = cfg.tasks or ("gmner" if cfg.images_dir is not None else "mner")
    if cfg.images_dir is None and tasks != "mner":
        print(f"no --images-dir: running the text path (tasks=mner) instead of tasks={tasks}", file=log)
        tasks = "mner"
    elif cfg.images_dir is None:
        print("no --images-dir: running the text path (tasks=mner); region metrics will not be meaningful", file=log)
    summary = PredictSummary(tasks=tasks)

    posts = read_conll(split_file(cfg.dataset_dir, cfg.split))
    indexed = list(enumerate(posts))[: cfg.limit] if cfg.limit is not None else list(enumerate(posts))
    knowledge: KnowledgeFile | None = read_knowledge(cfg.knowledge_file) if cfg.knowledge_file else None
    captions = read_captions(cfg.captions_file) if cfg.captions_file else {}

    done, summary.dropped_partial_line = load_done_ids(cfg.output)
    if summary.dropped_partial_line:
        print(f"{cfg.output}: dropped an incomplete last line; that post will be asked again", file=log)
    todo = [(i, p) for i, p in indexed if p[0] not in done]
    summary.total, summary.skipped = len(indexed), len(indexed) - len(todo)
    if summary.skipped:
        print(f"resuming: {summary.skipped} of {summary.total} posts already in {cfg.output}", file=log)

    cfg.output.parent.mkdir(parents=True, exist_ok=True)
    tick = _make_progress(cfg.progress, len(todo))
    queue: asyncio.Queue[tuple[int, tuple[str, list[str], list[str]]]] = asyncio.Queue()
    for item in todo:
        queue.put_nowait(item)
    url = cfg.gateway.rstrip("/") + "/v1/gmner"

    with open(cfg.output, "a", encoding="utf-8") as out:

        def write(record: dict[str, Any]) -> None:
            # One complete line per post, on disk before the next: a crash loses at most the line in flight.
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())

        async def body_for(index: int, post_id: str, tokens: list[str]) -> dict[str, Any]:
            text = " ".join(tokens)
            body: dict[str, Any] = {"text": text, "tasks": tasks}
            if cfg.images_dir is not None and tasks != "mner":
                image = find_image(cfg.images_dir, post_id)
                if image is None:
                    summary.missing_images += 1
                else:
                    body["image_b64"] = await asyncio.to_thread(_read_b64, image)
            if post_id in captions:
                body["caption"] = captions[post_id]
            if cfg.use_knowledge is not None:
                body["use_knowledge"] = cfg.use_knowledge
            if knowledge is not None:
                found = knowledge.lookup(index, text)
                if found is None:
                    summary.missing_knowledge += 1
                else:
                    body["knowledge"] = found
            return body

        async def ask(client: httpx.AsyncClient, post_id: str, body: dict[str, Any]) -> dict[str, Any]:
            headers = {"X-Request-ID": f"predict-dataset-{post_id}"[:128]}
            api_key = cfg.api_key or os.environ.get("GMNER_API_KEY")
            if api_key:
                headers["Authorization"] = f"Bearer {api_key}"
            attempt = 0
            while True:
                try:
                    response = await client.post(url, json=body, headers=headers)
                except httpx.TransportError as exc:
                    if attempt >= cfg.retries:
                        raise RuntimeError(f"{type(exc).__name__}: {exc}") from exc
                    delay = cfg.backoff_s * 2**attempt
                else:
                    if response.status_code == 200:
                        data = response.json()
                        if not isinstance(data, dict) or "entities" not in data:
                            raise RuntimeError("response has no entities")
                        return data
                    if response.status_code not in RETRY_STATUS or attempt >= cfg.retries:
                        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
                    delay = cfg.backoff_s * 2**attempt
                    retry_after = response.headers.get("Retry-After")
                    if retry_after and retry_after.replace(".", "", 1).isdigit():
                        delay = max(delay, min(float(retry_after), 30.0))
                attempt += 1
                await asyncio.sleep(delay)

        async def worker(client: httpx.AsyncClient) -> None:
            while True:
                try:
                    index, (post_id, tokens, _tags) = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    body = await body_for(index, post_id, tokens)
                    data = await ask(client, post_id, body)
                except Exception as exc:  # one bad post must not stop the run; it is retried next time
                    summary.failed[post_id] = str(exc)
                else:
                    write({"id": post_id, **data})
                    summary.written += 1
                if tick is not None:
                    tick()

        limits = httpx.Limits(max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency)
        async with httpx.AsyncClient(timeout=cfg.timeout_s, limits=limits, transport=transport) as client:
            await asyncio.gather(*(worker(client) for _ in range(max(1, cfg.concurrency))))

    if summary.missing_images:
        print(f"{summary.missing_images} posts had no image in {cfg.images_dir}: sent as text only", file=log)
    if summary.missing_knowledge:
        print(f"{summary.missing_knowledge} posts had no entry in {cfg.knowledge_file}: sent without it", file=log)
    return summary


def run(
    cfg: PredictConfig, transport: httpx.AsyncBaseTransport | None = None, log: TextIO | None = None
) -> PredictSummary:
    return asyncio.run(run_async(cfg, transport=transport, log=log))
