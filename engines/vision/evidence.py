"""What the `detector` backends of VE and VG look at: an image's detections and, where it can help, its text.

Both stages build one of these, so they gather the evidence the same way and judge it with the same rules
(`engines.vision.grounder.decide`; VE: is there a region? VG: which?). With an `EvidenceCache` the second stage
reads the evidence the first computed for the same image bytes instead of running the detector and OCR again.
"""

from __future__ import annotations

import hashlib
import json

from engines.vision.detector import Detection, DetectorConfig, DetectorWorker
from engines.vision.evidence_cache import EvidenceCache
from engines.vision.grounder import wants_text
from engines.vision.ocr import OCRConfig, TextHit, TextReader
from shared.images import DecodedImage
from shared.protocol.visual import VisualExpression


def _fingerprint(**fields: object) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


class VisualEvidence:
    def __init__(
        self,
        config: DetectorConfig | None = None,
        ocr: OCRConfig | None = None,
        *,
        worker: DetectorWorker | None = None,
        reader: TextReader | None = None,
        cache: EvidenceCache | None = None,
    ) -> None:
        self.worker = worker or DetectorWorker(config)
        self.ocr = ocr or OCRConfig()
        self.reader = reader if reader is not None or self.ocr.mode == "off" else TextReader(self.ocr)
        self.cache = cache
        # Only what changes the evidence goes into its cache key (not timeouts or paths).
        detector = self.worker.config
        self._det_key = _fingerprint(model="centernet", min_score=detector.min_score, max_side=detector.max_side)
        self._ocr_key = _fingerprint(model="ppocrv4", min_confidence=self.ocr.min_confidence)

    def detections(self, image: DecodedImage) -> list[Detection]:
        if self.cache is not None:
            cached = self.cache.detections(image.sha256, self._det_key)
            if cached is not None:
                return cached
        found = self.worker.detect(image)
        if self.cache is not None:
            self.cache.put_detections(image.sha256, self._det_key, found)
        return found

    def text(self, image: DecodedImage) -> list[TextHit]:
        assert self.reader is not None
        if self.cache is not None:
            cached = self.cache.text(image.sha256, self._ocr_key)
            if cached is not None:
                return cached
        hits = self.reader.read(image)
        if self.cache is not None:
            self.cache.put_text(image.sha256, self._ocr_key, hits)
        return hits

    def gather(self, image: DecodedImage, expressions: list[VisualExpression]) -> tuple[list[Detection], list[TextHit]]:
        """The image's detections, and its text lines when OCR is on and can change a decision (`mode`)."""
        detections = self.detections(image)
        text: list[TextHit] = []
        if self.reader is not None and (
            self.ocr.mode == "always" or (self.ocr.mode == "gated" and wants_text(expressions, detections))
        ):
            text = self.text(image)
        return detections, text

    def find_written(self, name: str, text: list[TextHit]) -> tuple[TextHit, float] | None:
        """The text line that writes `name`, with its score; None without OCR or text."""
        return self.reader.find(name, text) if self.reader is not None and text else None

    def ready(self) -> str:
        return "ok" if self.worker.ensure_running() else "detector worker down"

    def close(self) -> None:
        self.worker.close()
        if self.cache is not None:
            self.cache.close()
