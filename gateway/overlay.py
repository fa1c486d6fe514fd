"""The visual answer: the post's image with every grounded entity's mask, box and label drawn over it (Pillow)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from shared.protocol.common import RLEMask
from shared.protocol.gateway import GMNEREntity

# Distinct, colour-blind-friendly-ish colours (Tableau 10); the page (static/app.js) uses the same list so an
# entity has the same colour in the PNG and in the browser.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)
MASK_ALPHA = 110  # of 255: the person under the mask stays visible


def entity_colour(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


def entity_label(entity: GMNEREntity) -> str:
    return f"{entity.text} ({entity.type.value})"


def decode_mask(mask: RLEMask) -> np.ndarray:
    """A COCO RLE mask as a boolean array of shape (height, width)."""
    from pycocotools import mask as mask_utils  # imported here: only needed when there is a mask

    return np.asarray(mask_utils.decode({"size": list(mask.size), "counts": mask.counts.encode("ascii")}), dtype=bool)


def render_overlay(image: Image.Image, entities: Sequence[GMNEREntity], *, mask_alpha: int = MASK_ALPHA) -> Image.Image:
    """Draw masks (semi-transparent fill), boxes and `Name (TYPE)` labels; colour i goes to entity i of the answer.

    Entities without a box or mask are skipped but keep their colour index, so colours match the answer's
    order (and the web page's table) whatever was grounded.
    """
    base = image.convert("RGBA")
    width, height = base.size
    # Line width and font grow with the image so labels stay readable on large photos.
    line = max(2, round(min(width, height) / 200))
    font = _font(max(12, round(min(width, height) / 35)))

    masks: dict[int, np.ndarray] = {}
    fill = Image.new("RGBA", base.size, (0, 0, 0, 0))
    for index, entity in enumerate(entities):
        if entity.mask is None:
            continue
        mask = decode_mask(entity.mask)
        if mask.shape != (height, width):
            # Masks are in original-image pixels; a mismatch (e.g. a resized image) is scaled, not refused.
            mask = np.asarray(Image.fromarray(mask).resize((width, height), Image.Resampling.NEAREST), dtype=bool)
        masks[index] = mask
        layer = np.zeros((height, width, 4), dtype=np.uint8)
        layer[mask] = (*entity_colour(index), mask_alpha)
        fill = Image.alpha_composite(fill, Image.fromarray(layer, "RGBA"))
    out = Image.alpha_composite(base, fill)

    draw = ImageDraw.Draw(out)
    labels: list[tuple[int, tuple[float, float]]] = []
    for index, entity in enumerate(entities):
        box = _clip_box(entity.box, width, height) if entity.box is not None else None
        if box is not None:
            draw.rectangle(box, outline=(*entity_colour(index), 255), width=line)
            labels.append((index, (box[0], box[1])))
        elif index in masks:
            ys, xs = np.nonzero(masks[index])
            if len(xs):
                labels.append((index, (float(xs.min()), float(ys.min()))))
    # Labels last, so no box line crosses a label.
    for index, (x, y) in labels:
        _draw_label(draw, entity_label(entities[index]), entity_colour(index), x, y, font, width, height)
    return out.convert("RGB")


def render_overlay_png(image_bytes: bytes, entities: Sequence[GMNEREntity]) -> bytes:
    """Decode image bytes (EXIF orientation applied, as the stages see them), draw, encode as PNG."""
    with Image.open(io.BytesIO(image_bytes)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    return to_png(render_overlay(image, entities))


def to_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _clip_box(box: list[float], width: int, height: int) -> tuple[float, float, float, float] | None:
    x1, y1, x2, y2 = box
    x1, x2 = sorted((min(max(x1, 0.0), width - 1.0), min(max(x2, 0.0), width - 1.0)))
    y1, y2 = sorted((min(max(y1, 0.0), height - 1.0), min(max(y2, 0.0), height - 1.0)))
    return (x1, y1, x2, y2)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled default font (no file on disk, nothing downloaded); the bitmap one where FreeType is missing.
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError, ValueError):
        return ImageFont.load_default()


def _draw_label(
    draw: ImageDraw.ImageDraw,
    text: str,
    colour: tuple[int, int, int],
    x: float,
    y: float,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    width: int,
    height: int,
) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    text_w, text_h = right - left, bottom - top
    pad = max(2, text_h // 5)
    box_w, box_h = text_w + 2 * pad, text_h + 2 * pad
    # Above the box where there is room, otherwise just inside its top edge; never off the image.
    ly = y - box_h if y - box_h >= 0 else y
    lx = min(max(0.0, x), max(0.0, width - box_w))
    ly = min(max(0.0, ly), max(0.0, height - box_h))
    draw.rectangle((lx, ly, lx + box_w, ly + box_h), fill=(*colour, 255))
    # Dark text on light colours, white on dark ones (perceived luminance).
    luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    ink = (0, 0, 0, 255) if luminance > 150 else (255, 255, 255, 255)
    draw.text((lx + pad - left, ly + pad - top), text, fill=ink, font=font)
