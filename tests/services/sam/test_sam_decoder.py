"""The shared-image mask decoder gives segment-anything's own answer for every box of a batch."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from segment_anything.modeling import Sam

from services.sam.backends.decoder import predict_masks


def reference_and_ours(sam: Sam, n: int, multimask: bool) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    torch.manual_seed(n)
    grid = sam.prompt_encoder.image_embedding_size
    features = torch.randn(1, sam.mask_decoder.transformer_dim, *grid)
    size = sam.image_encoder.img_size
    corners = torch.rand(n, 2, 2) * size
    boxes = torch.cat([corners.min(dim=1).values, corners.max(dim=1).values + 4], dim=1)
    with torch.inference_mode():
        sparse, dense = sam.prompt_encoder(points=None, boxes=boxes, masks=None)
        pe = sam.prompt_encoder.get_dense_pe()
        reference = sam.mask_decoder(features, pe, sparse, dense, multimask)
        ours = predict_masks(sam.mask_decoder, features, pe, sparse, dense, multimask)
    return reference, ours


@pytest.mark.parametrize("n", [1, 3, 6])
@pytest.mark.parametrize("multimask", [False, True])
def test_same_logits_and_scores_as_segment_anything(
    litemedsam_model: Sam, make_tiny_sam: Callable[..., Sam], n: int, multimask: bool
) -> None:
    for sam in (litemedsam_model, make_tiny_sam()):
        (ref_masks, ref_iou), (masks, iou) = reference_and_ours(sam, n, multimask)
        assert masks.shape == ref_masks.shape and iou.shape == ref_iou.shape
        assert ref_masks.abs().max() > 0.1  # not a trivially equal pair of zeros
        torch.testing.assert_close(masks, ref_masks, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(iou, ref_iou, atol=1e-5, rtol=1e-4)
        # The decision SAM makes from the logits (mask > 0) is the same pixel for pixel but at the threshold.
        assert ((masks > 0) != (ref_masks > 0)).float().mean() < 1e-4
