"""SAM's mask decoder for many boxes on one image, without copying the image side once per box.

segment-anything's `MaskDecoder.predict_masks` starts with `repeat_interleave` of the image embedding and its
positional encoding to one copy per prompt, so the first two-way attention block projects the same 4096
image tokens (64 x 64) once per box: the token-to-image keys and values and the image-to-token queries. With
box prompts and no mask input the dense prompt embedding is the same for every box, so the image side is
the same for every box until the first image-to-token attention mixes in the box's tokens. Here the image
side stays a batch of one and broadcasts against the boxes in segment-anything's own attention modules (their
matmuls broadcast over the batch); from that first mixing on, every box has its own tensors as before.
The arithmetic is the same; only the repeated copies and projections are gone.
"""

from __future__ import annotations

import torch
from segment_anything.modeling import MaskDecoder


def predict_masks(
    decoder: MaskDecoder,
    image_embeddings: torch.Tensor,
    image_pe: torch.Tensor,
    sparse_prompt_embeddings: torch.Tensor,
    dense_prompt_embeddings: torch.Tensor,
    multimask_output: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`MaskDecoder.forward` for one image (batch 1) and N prompts whose dense embeddings are all equal (boxes
    or points without a mask input): masks (N, 1 or 3, h, w) of low-resolution logits and their IoU (N, 1 or 3)."""
    n = sparse_prompt_embeddings.shape[0]
    output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
    tokens = torch.cat((output_tokens.unsqueeze(0).expand(n, -1, -1), sparse_prompt_embeddings), dim=1)

    src = image_embeddings + dense_prompt_embeddings[:1]  # (1, C, h, w): the same for every prompt
    _, c, h, w = src.shape
    hs, keys = decoder.transformer(src, image_pe, tokens)  # keys: (N, h*w, C) from the first block on
    iou_token_out = hs[:, 0, :]
    mask_tokens_out = hs[:, 1 : (1 + decoder.num_mask_tokens), :]

    upscaled = decoder.output_upscaling(keys.transpose(1, 2).reshape(n, c, h, w))
    hyper_in = torch.stack(
        [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(decoder.output_hypernetworks_mlps)], dim=1
    )
    _, c_up, h_up, w_up = upscaled.shape
    masks = (hyper_in @ upscaled.view(n, c_up, h_up * w_up)).view(n, -1, h_up, w_up)
    iou_pred = decoder.iou_prediction_head(iou_token_out)

    keep = slice(1, None) if multimask_output else slice(0, 1)
    return masks[:, keep], iou_pred[:, keep]
