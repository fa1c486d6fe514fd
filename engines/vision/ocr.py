"""Names written in the image: PP-OCRv4 (ONNX models inside the `rapidocr-onnxruntime` wheel), cached per image.

OCR is the slow part of the embedded visual stages (0.8-4 s per image on 2 busy cores, measured with
benchmarks/bench_photos.py's photos), so the backends run it only when it can change an answer: some
non-person expression has no matching detection, or several people are to be told apart by a written name
(`mode="gated"`, the default; see `engines.vision.grounder.wants_text`). `"always"` and `"off"` too.

Matching is fuzzy on purpose: case, spaces, `#`/`@` and CamelCase are ignored by comparing letters and
digits only ("#RegionBased" = "Region-based"), and a close spelling (difflib ratio >= `min_ratio`, e.g.
"YAMIAMA" for "YAMAHA") counts, scaled by the ratio.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engines.vision.boxes import Box
from shared.images import DecodedImage
from shared.lru import LRUCache

OCRMode = Literal["gated", "always", "off"]


class OCRConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: OCRMode = Field(
        default="gated",
        description=(
            "`gated`: only when it can change an answer (a non-person expression without a matching "
            "detection, or people to tell apart); `always`; `off`."
        ),
    )
    min_confidence: float = Field(
        default=0.5, ge=0.0, le=1.0, description="OCR lines below this recognition confidence are ignored."
    )
    min_ratio: float = Field(
        default=0.75,
        ge=0.0,
        le=1.0,
        description=(
            "A name matches a text line when their letters and digits are at least this similar (difflib ratio)."
        ),
    )
    min_name_chars: int = Field(
        default=3,
        ge=1,
        description=('Names shorter than this (letters and digits) are not looked for: "US" is in too many words.'),
    )
    cache_items: int = Field(
        default=64, ge=0, description="Images whose OCR lines are kept in memory (by content hash)."
    )


@dataclass(frozen=True)
class TextHit:
    text: str
    score: float
    box: Box


def normalize(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


class TextReader:
    def __init__(self, config: OCRConfig | None = None) -> None:
        self.config = config or OCRConfig()
        from rapidocr_onnxruntime import RapidOCR

        self._engine: Any = RapidOCR()
        self._lock = threading.Lock()
        self._cache: LRUCache[tuple[TextHit, ...]] = LRUCache("ocr", max_items=self.config.cache_items)
        self.runs = 0

    def read(self, image: DecodedImage) -> list[TextHit]:
        cached = self._cache.get(image.sha256)
        if cached is not None:
            return list(cached)
        with self._lock:
            self.runs += 1
            result, _ = self._engine(np.asarray(image.image.convert("RGB")))
        hits = []
        for points, text, score in result or []:
            if float(score) < self.config.min_confidence:
                continue
            xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
            hits.append(TextHit(text=str(text), score=float(score), box=(min(xs), min(ys), max(xs), max(ys))))
        if self.config.cache_items > 0:
            self._cache.put(image.sha256, tuple(hits))
        return hits

    def find(self, name: str, hits: list[TextHit]) -> tuple[TextHit, float] | None:
        """The text line that writes `name` best, and its score (OCR confidence x spelling ratio)."""
        target = normalize(name)
        if len(target) < self.config.min_name_chars:
            return None
        best: tuple[TextHit, float] | None = None
        for hit in hits:
            line = normalize(hit.text)
            if target in line:
                ratio = 1.0
                hit = _narrow(hit, line.index(target), len(target), len(line))
            else:
                n = len(target)
                windows = [line[i : i + n] for i in range(max(1, len(line) - n + 1))]
                ratio = max((SequenceMatcher(None, target, w).ratio() for w in windows), default=0.0)
            if ratio >= self.config.min_ratio and (best is None or ratio * hit.score > best[1]):
                best = (hit, ratio * hit.score)
        return best


def _narrow(hit: TextHit, start: int, length: int, total: int) -> TextHit:
    """The part of a horizontal text line where the name is, by its share of the line's letters (a word of a
    sign, not the whole sign)."""
    x1, y1, x2, y2 = hit.box
    width = x2 - x1
    return TextHit(hit.text, hit.score, (x1 + width * start / total, y1, x1 + width * (start + length) / total, y2))


def needs_ocr(mode: OCRMode, expressions: list[Any], detections: list[Any]) -> bool:
    """Whether OCR can change an answer (`engines.vision.grounder.wants_text`), by `mode`."""
    if mode == "off":
        return False
    if mode == "always":
        return True
    from engines.vision.grounder import wants_text

    return wants_text(expressions, detections)
