"""The visual backend base: the pipeline steps in order, the model step under the lock and inference mode."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys

import pytest
import torch
from PIL import Image

from engines.vision.pipeline import VisualBackend, VisualPipeline
from services.sam.backends.predictor import PredictorBackend
from services.ve.backends.clip import ClipVEBackend
from services.ve.backends.detector import DetectorVEBackend
from services.ve.backends.faces import FacesVEBackend
from services.ve.backends.vlm import VLMVEBackend
from services.vg.backends.detector import DetectorVGBackend
from services.vg.backends.faces import FacesVGBackend
from services.vg.backends.open_vocabulary import GroundingDinoVGBackend, Owlv2VGBackend
from services.vg.backends.vlm import VLMVGBackend
from shared.images import DecodedImage, decode_image
from shared.settings import ImageLimits


class Doubler(VisualPipeline[list[int], list[int], list[int], list[str]]):
    name = "doubler"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, bool, bool]] = []

    def preprocess(self, image: DecodedImage, items: list[int]) -> list[int]:
        self.seen.append(("preprocess", self._lock.locked(), torch.is_inference_mode_enabled()))
        return [i * image.width for i in items]

    def _forward(self, inputs: list[int]) -> list[int]:
        self.seen.append(("_forward", self._lock.locked(), torch.is_inference_mode_enabled()))
        return [2 * i for i in inputs]

    def postprocess(self, outputs: list[int], image: DecodedImage) -> list[str]:
        self.seen.append(("postprocess", self._lock.locked(), torch.is_inference_mode_enabled()))
        return [f"{o}/{image.height}" for o in outputs]


def tiny_image() -> DecodedImage:
    buf = io.BytesIO()
    Image.new("RGB", (3, 5)).save(buf, format="PNG")
    return decode_image(buf.getvalue(), ImageLimits())


def test_run_chains_the_steps_and_only_the_model_step_holds_the_lock_in_inference_mode() -> None:
    pipe = Doubler()
    assert asyncio.run(pipe.run(tiny_image(), [1, 2])) == ["6/5", "12/5"]
    assert pipe.seen == [("preprocess", False, False), ("_forward", True, True), ("postprocess", False, False)]
    assert not pipe._lock.locked()


def test_a_failing_model_step_releases_the_lock() -> None:
    class Broken(Doubler):
        def _forward(self, inputs: list[int]) -> list[int]:
            raise ValueError("boom")

    pipe = Broken()
    with pytest.raises(ValueError, match="boom"):
        pipe(tiny_image(), [1])
    assert not pipe._lock.locked()


@pytest.mark.parametrize(
    "cls",
    [
        ClipVEBackend,
        DetectorVEBackend,
        FacesVEBackend,
        DetectorVGBackend,
        FacesVGBackend,
        Owlv2VGBackend,
        GroundingDinoVGBackend,
        PredictorBackend,
    ],
)
def test_in_process_backends_are_pipelines(cls: type) -> None:
    assert issubclass(cls, VisualPipeline)


@pytest.mark.parametrize("cls", [VLMVEBackend, VLMVGBackend])
def test_server_backends_are_backends_with_run_only(cls: type) -> None:
    # No sync pipeline steps to stub out: calling the model is `run`, an HTTP call.
    assert issubclass(cls, VisualBackend) and not issubclass(cls, VisualPipeline)
    assert "run" in cls.__dict__
    assert not any(attr in dir(cls) for attr in ("_forward", "preprocess", "postprocess", "__call__"))


def test_the_visual_stages_do_not_import_torch_for_the_default_backends() -> None:
    # torch costs a process about 500 MB RSS; the default VE/VG detector backends (Node, ONNX) never use it.
    code = (
        "import sys, services.ve.app, services.vg.app, services.ve.backends.detector, services.vg.backends.detector; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
