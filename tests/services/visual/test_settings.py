"""VE and VG share their common settings through one base, each app under its own env prefix."""

from __future__ import annotations

import pytest

from services.ve.settings import VESettings
from services.vg.settings import VGSettings
from services.visual.settings import VisualStageSettings


def test_each_app_reads_the_common_fields_under_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GMNER_VE_TORCH_THREADS", "3")
    monkeypatch.setenv("GMNER_VE_DETECTOR__TIMEOUT_S", "7")
    monkeypatch.setenv("GMNER_VG_VLM__MODEL", "my-vl")
    monkeypatch.setenv("GMNER_VG_IMAGE__MAX_SIDE", "999")
    ve, vg = VESettings(), VGSettings()
    assert isinstance(ve, VisualStageSettings) and isinstance(vg, VisualStageSettings)
    assert (ve.torch_threads, ve.detector.timeout_s, ve.vlm.model) == (3, 7.0, "Qwen/Qwen2.5-VL-7B-Instruct")
    assert (vg.torch_threads, vg.detector.timeout_s, vg.vlm.model, vg.image.max_side) == (0, 30.0, "my-vl", 999)
    assert (ve.port, vg.port, ve.backend, vg.backend) == (8003, 8004, "detector", "detector")


def test_the_apps_keep_their_own_fields() -> None:
    assert "threshold" in VESettings.model_fields and "threshold" not in VGSettings.model_fields
    assert "min_score" in VGSettings.model_fields and "min_score" not in VESettings.model_fields
    with pytest.raises(ValueError):
        VGSettings(backend="clip")
