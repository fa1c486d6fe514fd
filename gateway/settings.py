"""Settings of the gateway (env prefix `GMNER_GATEWAY_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.app_registry import APPS
from shared.settings import AppSettings


class GatewaySettings(AppSettings):
    model_config = SettingsConfigDict(env_prefix="GMNER_GATEWAY_", extra="ignore")

    port: int = Field(default=APPS["gateway"].port, description="Port the gateway listens on.")
    # Each stage on its default port (shared/app_registry.py) on this host.
    ner_url: str = Field(default=APPS["ner"].url(), description="Base URL of the NER app.")
    expansion_url: str = Field(default=APPS["expansion"].url(), description="Base URL of the expansion app.")
    ve_url: str | None = Field(
        default=APPS["ve"].url(),
        description="Base URL of the VE app; empty: not deployed (entities say `visual_stages_not_deployed`).",
    )
    vg_url: str | None = Field(default=APPS["vg"].url(), description="Base URL of the VG app; empty: not deployed.")
    sam_url: str | None = Field(default=APPS["sam"].url(), description="Base URL of the SAM app; empty: not deployed.")

    ner_timeout_s: float = Field(default=60.0, gt=0, description="Timeout of a call to NER, in seconds.")
    expansion_timeout_s: float = Field(default=60.0, gt=0, description="Timeout of a call to expansion, in seconds.")
    ve_timeout_s: float = Field(default=30.0, gt=0, description="Timeout of a call to VE, in seconds.")
    vg_timeout_s: float = Field(default=30.0, gt=0, description="Timeout of a call to VG, in seconds.")
    sam_timeout_s: float = Field(default=60.0, gt=0, description="Timeout of a call to SAM, in seconds.")
    stage_retries: int = Field(
        default=1,
        ge=0,
        description="Retries of a stage call after 429/502/503/504 or a connection error (not a timeout), "
        "within the call's timeout.",
    )
    deadline_s: float = Field(
        default=120.0,
        gt=0,
        description="No request takes longer; stages still running then are reported in `degraded`.",
    )
    max_entities: int = Field(
        default=16,
        ge=1,
        le=64,
        description="Most entities answered per post: the first ones NER found; the rest are left out.",
    )
    # Image limit + room for the text.
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest multipart or JSON body, refused before parsing: 413 past it.",
    )

    # API keys (off when unset): a file of `name:sha256hex` lines (`gmner keys new NAME --file F`). With keys
    # on, every path needs one except /health, the page and its static files; /ready and /metrics as below.
    api_keys_file: Path | None = Field(
        default=None, description="File of `name:sha256hex` lines (`gmner keys new`); null: no API keys needed."
    )
    api_key_max_inflight: int = Field(
        default=16, ge=1, description="Requests one API key may have in flight (429 past it)."
    )
    api_keys_protect_metrics: bool = Field(default=True, description="With keys on, `/metrics` needs a key too.")
    api_keys_protect_ready: bool = Field(
        default=False, description="With keys on, `/ready` needs a key too (probes usually carry none)."
    )
    # Readiness probes of the stages run in the background every `ready_probe_interval_s`; NER (without which
    # nothing is answered) counts as down after `ready_failures` failed probes in a row, not after one slow one.
    ready_probe_interval_s: float = Field(
        default=2.0, gt=0, description="Seconds between background readiness probes of each stage."
    )
    ready_probe_timeout_s: float = Field(default=5.0, gt=0, description="Timeout of one readiness probe, seconds.")
    ready_failures: int = Field(
        default=3, ge=1, description="Failed NER probes in a row before the gateway's `/ready` answers 503."
    )
