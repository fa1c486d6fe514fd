"""Axis-aligned boxes `(x1, y1, x2, y2)` in pixels: clipping, area, IoU."""

from __future__ import annotations

Box = tuple[float, float, float, float]


def clip_box(box: Box, width: float, height: float) -> Box:
    x1, y1, x2, y2 = box
    return (
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
        min(max(x2, 0.0), width),
        min(max(y2, 0.0), height),
    )


def box_area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def intersection(a: Box, b: Box) -> float:
    return box_area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def iou(a: Box, b: Box) -> float:
    inter = intersection(a, b)
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def is_degenerate(box: Box, min_side: float = 1.0) -> bool:
    return box[2] - box[0] < min_side or box[3] - box[1] < min_side


def round_box(box: Box, ndigits: int = 2) -> list[float]:
    return [round(float(v), ndigits) for v in box]
