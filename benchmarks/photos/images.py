"""The benchmark's photographs, built from images that ship inside packages (nothing is copied into the repo).

Sources (package, where the file lies, licence; README.md beside this file has the full list):

- scikit-image's bundled `skimage.data` images (never the downloaded ones): astronaut (NASA, public domain),
  coffee, chelsea, motorcycle (Middlebury stereo), horse, camera, rocket, logo, hubble_deep_field: see
  skimage/data/README for each licence.
- scikit-learn's sample images (china.jpg, flower.jpg: CC-BY, see sklearn/datasets/images/README.txt).
- Debian packages, read from var/photos/deb/<package>/ (what install_photos.sh extracts with `apt-get download`
  + `dpkg-deb -x`) or from the path where the package is installed:
  kphotoalbum (the demo album, /usr/share/kphotoalbum/demo: GPL-2+, Jesper K. Pedersen),
  palapeli-data (/usr/share/palapeli/collection: honey bee and Roebling bridge public domain, Maintenon castle
  and chameleon GFDL, citrus fruits public domain (USDA)), mate-backgrounds (nature/LadyBird.jpg,
  abstract/Elephants.jpg: GPL-2+), lomiri-wallpapers-20.04 (Kleiber_by_Lukas_Baubkus.jpg: CC-BY-SA-3.0),
  scribus-template (menu2/pizza.jpg, menu1/teriyaki.png, br2/sunset.jpg: GPL-2+), imagemagick-6-doc
  (html/images/wizard.jpg, t-shirt.png: ImageMagick licence), tuxpaint-stamps-default (photo cut-outs of
  animals and vehicles: GPL-2+).
- PyPI wheels, read from var/photos/wheels/ (what install_photos.sh fetches with `pip download --no-deps`):
  matplotlib (mpl-data/sample_data/grace_hopper.jpg: US Navy, public domain), mahotas
  (demos/data/luispedro.jpg: MIT), imgaug (quokka.jpg: MIT package; CC0 photo).

Spec grammar (`build`):

    spec  := banner:TEXT|spec | crop:X1,Y1,X2,Y2|spec | paste:X,Y,H|atom|spec | part(+part)*
    part  := flip:part | half:part | rot90:part | rot180:part | rot270:part | fit:N:part | atom
    atom  := skimage:NAME | sklearn:NAME | deb:PACKAGE:/PATH/AS/INSTALLED | wheel:DIST==VERSION:PATH/IN/WHEEL

`a+b` pastes side by side, top-aligned on a white canvas; `rotN` turns clockwise; `fit:N` scales so that the
longest side is N px; `paste` puts a cut-out (its alpha kept), scaled to H px high, with its top-left corner at
(X, Y) on the background spec. Images with an alpha channel are flattened on white.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[2]
PHOTO_DIR = Path(os.environ.get("GMNER_PHOTOS_DIR", ROOT / "var" / "photos"))


class MissingPhotoPackage(LookupError):
    """An image's package is not installed / fetched (run benchmarks/photos/install_photos.sh)."""

    def __init__(self, package: str, detail: str = "") -> None:
        super().__init__(f"photo package {package} is missing{': ' + detail if detail else ''}")
        self.package = package


def _rgb(array: np.ndarray) -> Image.Image:
    if array.dtype == bool:
        array = (array * 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, -1)
    return Image.fromarray(np.ascontiguousarray(array[..., :3]).astype(np.uint8))


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited on white (the RGB under a cut-out's alpha is noise)."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, "white")
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def skimage_photo(name: str) -> Image.Image:
    try:
        from skimage import data
    except ImportError as exc:
        raise MissingPhotoPackage("scikit-image") from exc
    if name == "motorcycle":
        return _rgb(data.stereo_motorcycle()[0])
    return _rgb(getattr(data, name)())


def sklearn_photo(name: str) -> Image.Image:
    try:
        from sklearn.datasets import load_sample_image
    except ImportError as exc:
        raise MissingPhotoPackage("scikit-learn") from exc
    return _rgb(load_sample_image(name))


def deb_path(package: str, path: str) -> Path:
    """Where a Debian package's file is: extracted under var/photos/deb/<package>/ first, else as installed."""
    for candidate in (PHOTO_DIR / "deb" / package / path.lstrip("/"), Path(path)):
        if candidate.is_file():
            return candidate
    raise MissingPhotoPackage(package, path)


def deb_photo(name: str) -> Image.Image:
    package, _, path = name.partition(":")
    with Image.open(deb_path(package, path)) as image:
        return _flatten(image)


def wheel_photo(name: str) -> Image.Image:
    requirement, _, member = name.partition(":")
    dist, _, version = requirement.partition("==")
    wheels = sorted((PHOTO_DIR / "wheels").glob(f"{dist.replace('-', '_')}-{version}-*.whl"))
    if not wheels:
        raise MissingPhotoPackage(requirement, f"no wheel in {PHOTO_DIR / 'wheels'}")
    with zipfile.ZipFile(wheels[0]) as wheel, Image.open(io.BytesIO(wheel.read(member))) as image:
        return _flatten(image)


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


def cutout(spec: str) -> Image.Image:
    """An atom with its alpha channel kept (for `paste`)."""
    source, _, name = spec.partition(":")
    if source == "deb":
        package, _, path = name.partition(":")
        with Image.open(deb_path(package, path)) as image:
            return image.convert("RGBA")
    return build(spec).convert("RGBA")


def paste(params: str, stamp_spec: str, background: Image.Image) -> Image.Image:
    x, y, height = (int(v) for v in params.split(","))
    stamp = cutout(stamp_spec)
    stamp = stamp.resize((round(stamp.width * height / stamp.height), height), Image.Resampling.LANCZOS)
    canvas = background.convert("RGBA")
    canvas.alpha_composite(stamp, (x, y))
    return canvas.convert("RGB")


def fit(name: str) -> Image.Image:
    size, _, rest = name.partition(":")
    image = build(rest)
    scale = int(size) / max(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)


def build(spec: str) -> Image.Image:
    """The image of a spec (see the module docstring for the grammar)."""
    if spec.startswith("banner:"):
        text, _, rest = spec[len("banner:") :].partition("|")
        return banner(text, build(rest))
    if spec.startswith("crop:"):
        box, _, rest = spec[len("crop:") :].partition("|")
        x1, y1, x2, y2 = (int(v) for v in box.split(","))
        return build(rest).crop((x1, y1, x2, y2))
    if spec.startswith("paste:"):
        params, stamp, rest = spec[len("paste:") :].split("|", 2)
        return paste(params, stamp, build(rest))
    if "+" in spec:
        return side_by_side(*(build(part) for part in spec.split("+")))
    source, _, name = spec.partition(":")
    builders: dict[str, Callable[[str], Image.Image]] = {
        "skimage": skimage_photo,
        "sklearn": sklearn_photo,
        "deb": deb_photo,
        "wheel": wheel_photo,
        "fit": fit,
        "flip": lambda s: build(s).transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "half": lambda s: (lambda im: im.resize((im.width // 2, im.height // 2)))(build(s)),
        # Clockwise, as photo albums store a turn (PIL's rotate is counter-clockwise).
        "rot90": lambda s: build(s).transpose(Image.Transpose.ROTATE_270),
        "rot180": lambda s: build(s).transpose(Image.Transpose.ROTATE_180),
        "rot270": lambda s: build(s).transpose(Image.Transpose.ROTATE_90),
    }
    if source not in builders:
        raise ValueError(f"unknown image source {source!r} in {spec!r}")
    return builders[source](name)


def packages_of(spec: str) -> set[str]:
    """The Debian packages and wheels (`dist==version`) a spec reads, for install_photos.sh."""
    found: set[str] = set()
    for piece in spec.replace("|", "+").split("+"):
        while True:
            head, sep, rest = piece.partition(":")
            if not sep:
                break
            if head == "deb":
                found.add("deb:" + rest.partition(":")[0])
                break
            if head == "wheel":
                found.add("wheel:" + rest.partition(":")[0])
                break
            piece = rest
    return found
