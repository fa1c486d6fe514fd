"""Production backend: a segment-anything ViT-B/L/H checkpoint (state dict, `.pth`) from a local path.

The architecture is read off the checkpoint's tensor shapes (encoder width, depth, heads, global-attention
blocks, input size), so the one loader serves the official ViT-B/L/H files and any smaller model with the
same layout (the tests save a tiny randomly initialised one). A named `model_type` is checked against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

# The prompt encoder / mask decoder of every released SAM (segment_anything/build_sam.py).
PROMPT_EMBED_DIM = 256
SAM_PIXEL_MEAN = (123.675, 116.28, 103.53)
SAM_PIXEL_STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class VitSpec:
    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    img_size: int = 1024
    patch_size: int = 16
    window_size: int = 14
    mlp_ratio: float = 4.0
    out_chans: int = PROMPT_EMBED_DIM


# The same numbers as segment_anything.build_sam's registry.
REGISTRY: dict[str, VitSpec] = {
    "vit_b": VitSpec(768, 12, 12, (2, 5, 8, 11)),
    "vit_l": VitSpec(1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": VitSpec(1280, 32, 16, (7, 15, 23, 31)),
}


class CheckpointError(ValueError):
    """The checkpoint is missing, unreadable, or not a segment-anything model of the expected type."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"SAM checkpoint {path} does not exist")
    try:
        # weights_only: a checkpoint is data, never code to run.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"SAM checkpoint {path} could not be read: {exc}") from exc
    if isinstance(state, dict):
        for key in ("model", "state_dict"):  # training checkpoints wrap the weights
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"SAM checkpoint {path} is not a state dict of tensors")
    return state


def infer_spec(state: dict[str, torch.Tensor]) -> VitSpec:
    """The ImageEncoderViT hyper-parameters that produced `state`."""
    prefix = "image_encoder."
    try:
        patch = state[prefix + "patch_embed.proj.weight"]  # (C, 3, p, p)
        pos = state[prefix + "pos_embed"]  # (1, g, g, C)
        neck = state[prefix + "neck.0.weight"]  # (out, C, 1, 1)
        mlp = state[prefix + "blocks.0.mlp.lin1.weight"]  # (C * ratio, C)
    except KeyError as exc:
        raise CheckpointError(f"not a segment-anything ViT checkpoint: no {exc.args[0]}") from exc
    embed_dim, patch_size, grid = int(patch.shape[0]), int(patch.shape[-1]), int(pos.shape[1])
    block_ids = {int(m.group(1)) for k in state if (m := re.match(r"image_encoder\.blocks\.(\d+)\.", k))}
    depth = max(block_ids) + 1
    # rel_pos_h is (2 * S - 1, head_dim): S is the token grid for global blocks and the window otherwise.
    spans, head_dim = [], 0
    for i in range(depth):
        rel = state.get(f"{prefix}blocks.{i}.attn.rel_pos_h")
        if rel is None:
            raise CheckpointError("the checkpoint's encoder has no relative position tables (use_rel_pos)")
        spans.append((int(rel.shape[0]) + 1) // 2)
        head_dim = int(rel.shape[1])
    global_idx = tuple(i for i, span in enumerate(spans) if span == grid)
    windows = {span for span in spans if span != grid}
    if len(windows) > 1 or head_dim == 0 or embed_dim % head_dim:
        raise CheckpointError(f"unsupported encoder layout: attention spans {spans}, head dim {head_dim}")
    return VitSpec(
        embed_dim=embed_dim,
        depth=depth,
        num_heads=embed_dim // head_dim,
        global_attn_indexes=global_idx,
        img_size=grid * patch_size,
        patch_size=patch_size,
        window_size=windows.pop() if windows else 14,
        mlp_ratio=int(mlp.shape[0]) / embed_dim,
        out_chans=int(neck.shape[0]),
    )


def build_sam(spec: VitSpec) -> Sam:
    """segment_anything.build_sam._build_sam, with the encoder's shape as a parameter."""
    embedding_size = spec.img_size // spec.patch_size
    return Sam(
        image_encoder=ImageEncoderViT(
            img_size=spec.img_size,
            patch_size=spec.patch_size,
            embed_dim=spec.embed_dim,
            depth=spec.depth,
            num_heads=spec.num_heads,
            mlp_ratio=spec.mlp_ratio,
            out_chans=spec.out_chans,
            qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_rel_pos=True,
            window_size=spec.window_size,
            global_attn_indexes=spec.global_attn_indexes,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=spec.out_chans,
            image_embedding_size=(embedding_size, embedding_size),
            input_image_size=(spec.img_size, spec.img_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=spec.out_chans, mlp_dim=2048, num_heads=8),
            transformer_dim=spec.out_chans,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
        pixel_mean=list(SAM_PIXEL_MEAN),
        pixel_std=list(SAM_PIXEL_STD),
    )


def load_sam(checkpoint: str | Path, model_type: str = "auto") -> Sam:
    state = read_state_dict(checkpoint)
    spec = infer_spec(state)
    if model_type != "auto":
        expected = REGISTRY.get(model_type)
        if expected is None:
            raise CheckpointError(f"unknown SAM model type {model_type!r}; use auto, {', '.join(REGISTRY)}")
        if spec != expected:
            raise CheckpointError(f"{checkpoint} is not a SAM {model_type} checkpoint: its encoder is {spec}")
    sam = build_sam(spec)
    try:
        sam.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{checkpoint} does not fit the SAM architecture: {exc}") from exc
    return sam.eval()
