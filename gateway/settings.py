"""Settings of the gateway (env prefix `GMNER_GATEWAY_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.apps import APPS
from shared.settings import AppSettings


class GatewaySettings(AppSettings):
    model_config = SettingsConfigDict(env_prefix="GMNER_GATEWAY_", extra="ignore")

    port: int = APPS["gateway"].port
    # Each stage on its default port (shared/apps.py) on this host.
    ner_url: str = APPS["ner"].url()
    expansion_url: str = APPS["expansion"].url()
    # A visual stage left empty is "not deployed": entities get a reason instead of a box.
    ve_url: str | None = APPS["ve"].url()
    vg_url: str | None = APPS["vg"].url()
    sam_url: str | None = APPS["sam"].url()

    ner_timeout_s: float = Field(default=60.0, gt=0)
    expansion_timeout_s: float = Field(default=60.0, gt=0)
    ve_timeout_s: float = Field(default=30.0, gt=0)
    vg_timeout_s: float = Field(default=30.0, gt=0)
    sam_timeout_s: float = Field(default=60.0, gt=0)
    stage_retries: int = Field(default=1, ge=0)
    # The whole request never takes longer than this; stages still running are reported as degraded.
    deadline_s: float = Field(default=120.0, gt=0)
    max_entities: int = Field(default=16, ge=1, le=64)
    # Multipart/JSON bodies larger than this are refused before parsing (image limit + room for text).
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)

    # API keys (off when unset): a file of `name:sha256hex` lines (`gmner keys new NAME --file F`). With keys
    # on, every path needs one except /health, the page and its static files; /ready and /metrics as below.
    api_keys_file: Path | None = None
    api_key_max_inflight: int = Field(default=16, ge=1)
    api_keys_protect_metrics: bool = True
    api_keys_protect_ready: bool = False
    # Readiness probes of the stages run in the background every `ready_probe_interval_s`; NER (without which
    # nothing is answered) counts as down after `ready_failures` failed probes in a row, not after one slow one.
    ready_probe_interval_s: float = Field(default=2.0, gt=0)
    ready_probe_timeout_s: float = Field(default=5.0, gt=0)
    ready_failures: int = Field(default=3, ge=1)
