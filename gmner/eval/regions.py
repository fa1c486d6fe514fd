"""Box and mask geometry for scoring: box IoU and COCO RLE decode/encode/IoU.

COCO's compressed RLE is decoded here in pure Python + numpy (the algorithm of `rleFrString` in pycocotools'
`maskApi.c`), so scoring masks does not require pycocotools; a test checks both agree when it is installed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Box = tuple[float, float, float, float]


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two `[x1, y1, x2, y2]` boxes with continuous areas (no +1 pixel convention, as torchvision)."""
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(ix, 0.0) * max(iy, 0.0)
    area_a = max(a[2] - a[0], 0.0) * max(a[3] - a[1], 0.0)
    area_b = max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0)
    union = area_a + area_b - inter
    return float(inter / union) if union > 0 else 0.0


def string_to_counts(s: str) -> list[int]:
    """Decode a COCO compressed RLE string into run lengths (zeros first, column-major)."""
    counts: list[int] = []
    p = 0
    while p < len(s):
        x = 0
        k = 0
        more = True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def counts_to_string(counts: Sequence[int]) -> str:
    """Encode run lengths as a COCO compressed RLE string (inverse of `string_to_counts`)."""
    out: list[str] = []
    for i, cnt in enumerate(counts):
        x = int(cnt)
        if i > 2:
            x -= int(counts[i - 2])
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift, like the C code on a signed long
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def rle_counts(rle: Mapping[str, Any]) -> list[int]:
    """Run lengths of an RLE dict; `counts` may be the compressed string or a plain list of ints."""
    counts = rle["counts"]
    if isinstance(counts, str):
        return string_to_counts(counts)
    return [int(c) for c in counts]


def rle_size(rle: Mapping[str, Any]) -> tuple[int, int]:
    size = rle["size"]
    return int(size[0]), int(size[1])


def decode_flat(rle: Mapping[str, Any]) -> npt.NDArray[np.bool_]:
    """The mask as a flat boolean array in COCO's column-major order (enough for IoU; no reshape needed)."""
    h, w = rle_size(rle)
    counts = rle_counts(rle)
    if sum(counts) != h * w or any(c < 0 for c in counts):
        raise ValueError(f"RLE counts sum to {sum(counts)}, expected {h}x{w}={h * w}")
    values = (np.arange(len(counts)) % 2).astype(bool)
    return np.repeat(values, counts)


def decode(rle: Mapping[str, Any]) -> npt.NDArray[np.bool_]:
    """The mask as an `(h, w)` boolean array."""
    h, w = rle_size(rle)
    return decode_flat(rle).reshape((w, h)).T


def encode(mask: npt.ArrayLike) -> dict[str, Any]:
    """Encode an `(h, w)` mask as `{"size": [h, w], "counts": str}` (what `pycocotools.mask.encode` writes)."""
    arr = np.asarray(mask, dtype=bool)
    h, w = arr.shape
    flat = arr.T.reshape(-1)  # column-major, as COCO
    counts: list[int] = []
    if flat.size:
        change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        bounds = np.concatenate(([0], change, [flat.size]))
        runs = np.diff(bounds).tolist()
        if flat[0]:
            runs = [0, *runs]  # RLE always starts with a run of zeros
        counts = [int(r) for r in runs]
    return {"size": [int(h), int(w)], "counts": counts_to_string(counts)}


def mask_iou(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
    """IoU of two flat masks of the same size; 0 when both are empty."""
    if a.shape != b.shape:
        raise ValueError(f"mask sizes differ: {a.shape} vs {b.shape}")
    union = int(np.count_nonzero(a | b))
    if union == 0:
        return 0.0
    return int(np.count_nonzero(a & b)) / union
