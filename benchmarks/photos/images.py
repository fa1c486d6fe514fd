"""The benchmark's photographs, built from images that ship inside packages (nothing is copied here).

scikit-image's `skimage.data` photos (astronaut: NASA, public domain; coffee, chelsea, motorcycle
(Middlebury stereo), horse, camera, rocket: see skimage/data/README for each licence) and scikit-learn's
sample images (china.jpg, flower.jpg: CC-BY, see sklearn/datasets/images/README.txt). Composites are
side-by-side pastes, top-aligned on a white canvas.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image


def _rgb(array: np.ndarray) -> Image.Image:
    if array.dtype == bool:
        array = (array * 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, -1)
    return Image.fromarray(np.ascontiguousarray(array[..., :3]).astype(np.uint8))


def skimage_photo(name: str) -> Image.Image:
    from skimage import data

    if name == "motorcycle":
        return _rgb(data.stereo_motorcycle()[0])
    return _rgb(getattr(data, name)())


def sklearn_photo(name: str) -> Image.Image:
    from sklearn.datasets import load_sample_image

    return _rgb(load_sample_image(name))


def side_by_side(*images: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (sum(i.width for i in images), max(i.height for i in images)), "white")
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width
    return canvas


def banner(text: str, image: Image.Image) -> Image.Image:
    """`image` with `text` printed in black on a 90 px white strip under it (a caption, a sign, a poster)."""
    from PIL import ImageDraw, ImageFont

    canvas = Image.new("RGB", (image.width, image.height + 90), "white")
    canvas.paste(image, (0, 0))
    ImageDraw.Draw(canvas).text((40, image.height + 15), text, fill="black", font=ImageFont.load_default(size=56))
    return canvas


def build(spec: str) -> Image.Image:
    """`skimage:astronaut`, `sklearn:china.jpg`, `flip:<spec>`, `half:<spec>`, `banner:TEXT|<spec>`, `a+b`
    (side by side)."""
    if spec.startswith("banner:"):
        text, _, rest = spec[len("banner:") :].partition("|")
        return banner(text, build(rest))
    if "+" in spec:
        return side_by_side(*(build(part) for part in spec.split("+")))
    source, _, name = spec.partition(":")
    builders: dict[str, Callable[[str], Image.Image]] = {
        "skimage": skimage_photo,
        "sklearn": sklearn_photo,
        "flip": lambda s: build(s).transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "half": lambda s: (lambda im: im.resize((im.width // 2, im.height // 2)))(build(s)),
    }
    return builders[source](name)
