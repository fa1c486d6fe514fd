"""The bundled person detector used by the embedded VE and VG backends (CPU, weights shipped in packages).

Faces come from MTCNN (`facenet-pytorch`, whose P/R/O-net weights ship inside the wheel). OpenCV's Haar
cascades (shipped in `opencv-python-headless` under `cv2.data.haarcascades`) can add frontal faces and
upper/full bodies, either always or only when MTCNN found no face. A body that contains a face is merged
with it into one `Person`. Detections are cached per image (SHA-256 of its bytes) in a small LRU, so the VE
and VG calls of one post, or several calls within one app, run the detector once.

What this is not: an entity matcher. It says "there is a person here, about this big", never *who* it is.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from engines.vision.boxes import Box, box_area, clip_box, iou
from shared.images import DecodedImage
from shared.lru import LRUCache

logger = logging.getLogger(__name__)

HaarMode = Literal["off", "fallback", "always"]


class FaceDetectorConfig(BaseModel):
    """How people are found. Env: `GMNER_VE_FACES__<FIELD>` / `GMNER_VG_FACES__<FIELD>`."""

    model_config = ConfigDict(extra="forbid")

    mtcnn: bool = Field(default=True, description="Detect faces with MTCNN (facenet-pytorch).")
    # Smallest face MTCNN looks for, in pixels of the detection image (after `detect_max_side`).
    min_face_size: int = Field(
        default=20,
        ge=8,
        description="Smallest face MTCNN looks for, in pixels of the detection image (after `detect_max_side`).",
    )
    # MTCNN's P/R/O-net thresholds (the library defaults) and the face probability a face must reach.
    mtcnn_thresholds: tuple[float, float, float] = Field(
        default=(0.6, 0.7, 0.7), description="MTCNN's P/R/O-net thresholds (the library's defaults)."
    )
    min_score: float = Field(default=0.9, ge=0.0, le=1.0, description="The face probability a face must reach.")
    haar_faces: HaarMode = Field(
        default="off",
        description="OpenCV Haar face cascade: `off`, `fallback` (only when MTCNN found no face) or `always`.",
    )
    haar_bodies: HaarMode = Field(
        default="off", description="OpenCV Haar body cascades: `off`, `fallback` or `always`."
    )
    haar_face_cascade: str = Field(
        default="haarcascade_frontalface_default.xml", description="The Haar face cascade file (from OpenCV's data)."
    )
    haar_body_cascades: list[str] = Field(
        default_factory=lambda: ["haarcascade_upperbody.xml", "haarcascade_fullbody.xml"],
        description="The Haar body cascade files (from OpenCV's data).",
    )
    # Haar cascades give no calibrated confidence: their detections get these fixed scores.
    haar_face_score: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="The fixed score of a Haar face detection (Haar cascades give no calibrated confidence).",
    )
    haar_body_score: float = Field(
        default=0.55, ge=0.0, le=1.0, description="The fixed score of a Haar body detection."
    )
    haar_min_neighbors: int = Field(
        default=6, ge=1, description="Haar minNeighbors: more means fewer false positives (and fewer true ones)."
    )
    detect_max_side: int = Field(
        default=1024,
        ge=64,
        description=("Larger images are shrunk to this longest side before detection (speed); boxes are mapped back."),
    )
    cache_items: int = Field(
        default=64, ge=0, description="Images whose detections are kept in memory (by content hash)."
    )


class PersonBoxRule(BaseModel):
    """How a face box becomes a person box (used when no body box was detected for that face).

    With face width `w`, height `h` and centre `cx`: the person box is `3.5 w` wide centred on `cx` (adult
    shoulders are ~3.2 face widths; MTCNN's box is about cheek to cheek), starts
    `0.5 h` above the face box (hair; MTCNN boxes start at the brows) and ends `5 h` below the chin, i.e.
    about 6.5 face heights tall: head to hips for an adult. It is then clipped to the image. Portrait
    crops (most social-media photos) are clipped at the bottom edge, which is what we want.
    """

    model_config = ConfigDict(extra="forbid")

    width_factor: float = Field(
        default=3.5, gt=0, description="Width of the person box, in face widths, centred on the face."
    )
    above_factor: float = Field(
        default=0.5, ge=0, description="How far the person box starts above the face box, in face heights."
    )
    below_factor: float = Field(
        default=5.0, ge=0, description="How far the person box ends below the chin, in face heights."
    )


@dataclass(frozen=True)
class Person:
    """One detected person: a face, a body, or both (pixels of the original image)."""

    score: float
    face: Box | None
    body: Box | None
    source: str

    @property
    def face_area(self) -> float:
        return box_area(self.face) if self.face is not None else 0.0

    def person_box(self, width: int, height: int, rule: PersonBoxRule) -> Box:
        """The box around the whole visible person: the body box if one was found, else the face rule."""
        if self.body is not None:
            box = self.body
            if self.face is not None:  # a body cascade often cuts the top of the head
                box = (
                    min(box[0], self.face[0]),
                    min(box[1], self.face[1]),
                    max(box[2], self.face[2]),
                    max(box[3], self.face[3]),
                )
            return clip_box(box, width, height)
        assert self.face is not None
        x1, y1, x2, y2 = self.face
        w, h = x2 - x1, y2 - y1
        cx = (x1 + x2) / 2
        half = rule.width_factor * w / 2
        return clip_box((cx - half, y1 - rule.above_factor * h, cx + half, y2 + rule.below_factor * h), width, height)


def rank_people(people: list[Person]) -> list[Person]:
    """The order in which people are handed out: people with a face first, largest face first (the
    subject of a photo is usually its largest face; MTCNN's probabilities are all ~0.99 and do not
    separate them), then body-only detections, largest first; ties by score."""
    return sorted(
        people,
        key=lambda p: (p.face is None, -p.face_area, -(box_area(p.body) if p.body else 0.0), -p.score),
    )


class PersonDetector:
    """Finds people in an image; thread-safe; results cached per image SHA-256."""

    def __init__(self, config: FaceDetectorConfig | None = None, *, device: str = "cpu") -> None:
        self.config = config or FaceDetectorConfig()
        self._lock = threading.Lock()
        self._cache: LRUCache[tuple[Person, ...]] = LRUCache("faces", max_items=self.config.cache_items)
        self.runs = 0  # detector runs (cache misses), for tests and metrics
        self._mtcnn: Any = None
        self._face_cascade: Any = None
        self._body_cascades: list[Any] = []
        if self.config.mtcnn:
            # facenet-pytorch is installed with --no-deps (its pins predate our torch); MTCNN needs only
            # torch, torchvision's NMS and the P/R/O-net weights inside the package.
            from facenet_pytorch import MTCNN

            self._mtcnn = MTCNN(
                keep_all=True,
                min_face_size=self.config.min_face_size,
                thresholds=list(self.config.mtcnn_thresholds),
                post_process=False,
                device=device,
            )
        if self.config.haar_faces != "off":
            self._face_cascade = _load_cascade(self.config.haar_face_cascade)
        if self.config.haar_bodies != "off":
            self._body_cascades = [_load_cascade(name) for name in self.config.haar_body_cascades]
        if self._mtcnn is None and self._face_cascade is None and not self._body_cascades:
            raise ValueError("the person detector has every detector switched off")

    def detect(self, image: DecodedImage) -> list[Person]:
        """People in `image`, ranked by `rank_people`."""
        cached = self._cache.get(image.sha256)
        if cached is not None:
            return list(cached)
        people = rank_people(self.detect_pil(image.image))
        self._cache.put(image.sha256, tuple(people))
        return people

    def detect_pil(self, image: Image.Image) -> list[Person]:
        """Uncached detection on an RGB image; boxes in its pixels."""
        scale = min(1.0, self.config.detect_max_side / max(image.size))
        small = image
        if scale < 1.0:
            small = image.resize(
                (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BILINEAR
            )
        with self._lock:
            self.runs += 1
            faces = self._mtcnn_faces(small)
            gray: np.ndarray | None = None
            if self._face_cascade is not None and (self.config.haar_faces == "always" or not faces):
                gray = _gray(small)
                faces += self._haar_faces(gray, faces)
            bodies: list[Box] = []
            if self._body_cascades and (self.config.haar_bodies == "always" or not faces):
                gray = gray if gray is not None else _gray(small)
                bodies = self._haar_bodies(gray)
        people = _merge(faces, bodies, self.config.haar_body_score)
        if scale < 1.0:
            people = [_rescale(p, 1.0 / scale, image.width, image.height) for p in people]
        return people

    def _mtcnn_faces(self, image: Image.Image) -> list[tuple[Box, float, str]]:
        # MTCNN's image pyramid is empty (and it raises) when the image is smaller than the smallest face.
        if self._mtcnn is None or min(image.size) < self.config.min_face_size:
            return []
        import torch

        with torch.inference_mode():
            boxes, probs = self._mtcnn.detect(image)
        if boxes is None:
            return []
        faces = []
        for box, prob in zip(boxes, probs, strict=True):
            if prob is None or float(prob) < self.config.min_score:
                continue
            clipped = clip_box(tuple(float(v) for v in box), image.width, image.height)  # type: ignore[arg-type]
            if box_area(clipped) > 0:
                faces.append((clipped, float(prob), "mtcnn"))
        return faces

    def _haar_faces(self, gray: np.ndarray, known: list[tuple[Box, float, str]]) -> list[tuple[Box, float, str]]:
        size = self.config.min_face_size
        found = self._face_cascade.detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=self.config.haar_min_neighbors, minSize=(size, size)
        )
        faces: list[tuple[Box, float, str]] = []
        for x, y, w, h in _rects(found):
            box: Box = (x, y, x + w, y + h)
            # The same face seen by both detectors is kept once (MTCNN's box, which is tighter).
            if any(iou(box, other[0]) > 0.3 for other in known + faces):
                continue
            faces.append((box, self.config.haar_face_score, "haar_face"))
        return faces

    def _haar_bodies(self, gray: np.ndarray) -> list[Box]:
        bodies: list[Box] = []
        min_side = 2 * self.config.min_face_size
        for cascade in self._body_cascades:
            found = cascade.detectMultiScale(
                gray, scaleFactor=1.1, minNeighbors=self.config.haar_min_neighbors, minSize=(min_side, min_side)
            )
            for x, y, w, h in _rects(found):
                box: Box = (x, y, x + w, y + h)
                if not any(iou(box, other) > 0.5 for other in bodies):
                    bodies.append(box)
        return bodies


def _load_cascade(name: str) -> Any:
    import cv2

    # cv2's stubs omit `cv2.data`.
    cascades = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]
    path = Path(name) if Path(name).is_absolute() else cascades / name
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise ValueError(f"could not load the Haar cascade {path}")
    return cascade


def _gray(image: Image.Image) -> np.ndarray:
    import cv2

    gray = np.asarray(image.convert("L"))
    return cv2.equalizeHist(gray)


def _rects(found: Any) -> list[tuple[float, float, float, float]]:
    return [tuple(float(v) for v in row) for row in np.asarray(found).reshape(-1, 4)]  # type: ignore[misc]


def _merge(faces: list[tuple[Box, float, str]], bodies: list[Box], body_score: float) -> list[Person]:
    """Pair each face with at most one body that plausibly belongs to it; unpaired bodies stand alone.

    A body belongs to a face when the face centre lies inside the body box, in its upper half, and the
    face is between 1/8 and 5/6 of the body's width. Larger faces choose first; a body is used once.
    """
    people: list[Person] = []
    free = list(bodies)
    for face, score, source in sorted(faces, key=lambda f: -box_area(f[0])):
        cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
        fw = face[2] - face[0]
        candidates = [
            b
            for b in free
            if b[0] <= cx <= b[2]
            and b[1] <= cy <= (b[1] + b[3]) / 2
            and (b[2] - b[0]) / 8 <= fw <= (b[2] - b[0]) * 5 / 6
        ]
        body = max(candidates, key=box_area) if candidates else None
        if body is not None:
            free.remove(body)
        people.append(Person(score=score, face=face, body=body, source=source + ("+haar_body" if body else "")))
    people += [Person(score=body_score, face=None, body=b, source="haar_body") for b in free]
    return people


def _rescale(person: Person, factor: float, width: int, height: int) -> Person:
    def scale(box: Box | None) -> Box | None:
        if box is None:
            return None
        return clip_box((box[0] * factor, box[1] * factor, box[2] * factor, box[3] * factor), width, height)

    return Person(score=person.score, face=scale(person.face), body=scale(person.body), source=person.source)
