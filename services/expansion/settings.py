"""Settings of the expansion service (env prefix `GMNER_EXPANSION_`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.app_registry import APPS
from shared.settings import AppSettings


class ExpansionSettings(AppSettings):
    model_config = SettingsConfigDict(env_prefix="GMNER_EXPANSION_", extra="ignore")

    port: int = Field(default=APPS["expansion"].port, description="Port the expansion app listens on.")
    max_tokens: int = Field(default=48, ge=4, description="Most tokens the LLM may write for one entity's description.")
    max_description_chars: int = Field(
        default=160,
        ge=16,
        description=(
            "The description kept in the expression is the answer's first sentence, cut to this many characters."
        ),
    )
    reuse_listed_descriptions: bool = Field(
        default=True,
        description=(
            "Take an entity's description from the post's knowledge when it is in the listed form "
            "(`Name (type) – description`) instead of asking the LLM; other entities still get an LLM call."
        ),
    )
    max_background_chars: int = Field(
        default=600,
        ge=0,
        description=(
            "The background (the NER knowledge) given to the prompt is cut to this many characters "
            "(small LLM contexts)."
        ),
    )
