"""What the `detector` backends of VE and VG look at: an image's detections and, where it can help, its text.

Both stages build one of these, so they gather the evidence the same way and judge it each for its own
question (VE: is the entity there? VG: where?).
"""

from __future__ import annotations

from shared.images import DecodedImage
from shared.protocol.visual import VisualExpression
from shared.vision.detector import Detection, DetectorConfig, DetectorWorker
from shared.vision.ocr import OCRConfig, TextHit, TextReader, needs_ocr


class VisualEvidence:
    def __init__(
        self,
        config: DetectorConfig | None = None,
        ocr: OCRConfig | None = None,
        *,
        worker: DetectorWorker | None = None,
        reader: TextReader | None = None,
    ) -> None:
        self.worker = worker or DetectorWorker(config)
        self.ocr = ocr or OCRConfig()
        self.reader = reader if reader is not None or self.ocr.mode == "off" else TextReader(self.ocr)

    def gather(self, image: DecodedImage, expressions: list[VisualExpression]) -> tuple[list[Detection], list[TextHit]]:
        """The image's detections (cached per image by the worker), and its text lines when OCR is on and some
        expression may need them."""
        detections = self.worker.detect(image)
        text: list[TextHit] = []
        if self.reader is not None and needs_ocr(self.ocr.mode, expressions, detections):
            text = self.reader.read(image)
        return detections, text

    def find_written(self, name: str, text: list[TextHit]) -> tuple[TextHit, float] | None:
        """The text line that writes `name`, with its score; None without OCR or text."""
        return self.reader.find(name, text) if self.reader is not None and text else None

    def ready(self) -> str:
        return "ok" if self.worker.ensure_running() else "detector worker down"

    def close(self) -> None:
        self.worker.close()
