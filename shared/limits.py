"""Limits on user text, read once from the environment and shared by every app's request schemas.

One setting for the whole deployment (`GMNER_MAX_TEXT_CHARS`), not one per app: the gateway forwards the
post's text to NER and expansion and its expressions to VE and VG, so limits that could differ between apps
would let the gateway accept a post that a stage behind it then refuses.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TextLimits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GMNER_", extra="ignore", env_file=None)

    max_text_chars: int = Field(
        default=2000,
        ge=1,
        description=(
            "Longest text, caption, entity or referring expression any app accepts; longer is a 422 naming the field."
        ),
    )


# Read at import: the request schemas declare the limit in their types (and in the OpenAPI document), and
# pydantic builds those once per process.
TEXT_LIMITS = TextLimits()
