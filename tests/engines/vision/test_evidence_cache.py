"""The visual evidence shared by VE and VG through Redis (the real one at 127.0.0.1:6379, as the LLM cache's
tests use): the second stage reads what the first computed, for the same bytes and detector settings only."""

from __future__ import annotations

import uuid

from engines.vision.detector import Detection, DetectorConfig
from engines.vision.evidence import VisualEvidence
from engines.vision.evidence_cache import EvidenceCache, EvidenceCacheConfig
from engines.vision.ocr import OCRConfig
from shared.images import DecodedImage, ImageCache
from shared.protocol.visual import VisualExpression
from shared.settings import ImageLimits
from tests.visual_testing import astronaut, coffee, png_bytes

PERSON = Detection("person", 0.6, (10.0, 10.0, 370.0, 512.0))


class CountingWorker:
    """Stands in for the Node worker: counts its runs (the evidence logic is what is tested here)."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self.runs = 0

    def detect(self, image: DecodedImage) -> list[Detection]:
        self.runs += 1
        return [PERSON]

    def ensure_running(self) -> bool:
        return True

    def close(self) -> None:
        return None


def evidence(prefix: str, config: DetectorConfig | None = None, url: str | None = None) -> VisualEvidence:
    cache = EvidenceCache(EvidenceCacheConfig(prefix=prefix, redis_url=url))
    worker = CountingWorker(config)
    return VisualEvidence(ocr=OCRConfig(mode="off"), worker=worker, cache=cache)  # type: ignore[arg-type]


def test_the_second_stage_reads_the_first_stages_detections() -> None:
    prefix = f"gmner:test-evidence:{uuid.uuid4().hex}:"
    ve, vg = evidence(prefix), evidence(prefix)
    image = ImageCache(ImageLimits()).decode(png_bytes(astronaut()))
    expressions = [VisualExpression(entity="Eileen Collins", type="PER", expression="Eileen Collins (PER)")]
    assert ve.gather(image, expressions)[0] == [PERSON]
    assert vg.gather(image, expressions)[0] == [PERSON]
    assert ve.worker.runs == 1 and vg.worker.runs == 0  # type: ignore[attr-defined]
    # Other bytes, or other detector settings: computed again, never reused.
    other = ImageCache(ImageLimits()).decode(png_bytes(coffee()))
    vg.gather(other, expressions)
    assert vg.worker.runs == 1  # type: ignore[attr-defined]
    stricter = evidence(prefix, DetectorConfig(min_score=0.5))
    stricter.gather(image, expressions)
    assert stricter.worker.runs == 1  # type: ignore[attr-defined]


def test_no_redis_means_each_stage_computes_its_own() -> None:
    down = evidence("gmner:test-evidence:", url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    image = ImageCache(ImageLimits()).decode(png_bytes(astronaut()))
    expressions = [VisualExpression(entity="X", type="PER", expression="X (PER)")]
    assert down.gather(image, expressions)[0] == [PERSON]
    assert down.gather(image, expressions)[0] == [PERSON]
    assert down.worker.runs == 2  # type: ignore[attr-defined]
