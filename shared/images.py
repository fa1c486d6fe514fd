"""Decoding and validating user images: formats, EXIF orientation, byte and pixel limits."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from shared.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from shared.lru import LRUCache
from shared.settings import ImageLimits

SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})


@dataclass(frozen=True)
class DecodedImage:
    """An RGB image with EXIF orientation applied, and the SHA-256 of the bytes it came from."""

    image: Image.Image
    sha256: str
    format: str

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


def decode_base64(data: str) -> bytes:
    """Decode standard base64, tolerating missing padding and a `data:` URL prefix."""
    if data.startswith("data:"):
        _, _, data = data.partition(",")
    data = "".join(data.split())
    data += "=" * (-len(data) % 4)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("invalid_base64", f"image_b64 is not valid base64: {exc}") from exc


def encode_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode_image(data: bytes, limits: ImageLimits, digest: str | None = None) -> DecodedImage:
    """Validate and decode image bytes. Raises a 4xx `APIError` with a reason for every bad input."""
    if not data:
        raise InvalidInput("empty_image", "The image is empty (0 bytes).")
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge("image_too_large", f"The image is {len(data)} bytes; the limit is {limits.max_bytes}.")
    digest = digest or hashlib.sha256(data).hexdigest()
    with warnings.catch_warnings():
        # Pillow warns, then raises, on bombs: we check the size ourselves before loading pixels.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data))
        except UnidentifiedImageError as exc:
            raise UnsupportedMediaType("not_an_image", "The bytes are not a recognised image.") from exc
        except Image.DecompressionBombError as exc:
            raise PayloadTooLarge("too_many_pixels", str(exc)) from exc
        except (OSError, SyntaxError, ValueError) as exc:
            # A file cut inside its header (e.g. a JPEG's first segments) fails already here.
            raise InvalidInput("corrupt_image", f"The image could not be decoded: {exc}") from exc
        fmt = (probe.format or "").upper()
        if fmt not in SUPPORTED_FORMATS:
            raise UnsupportedMediaType(
                "unsupported_format", f"Format {fmt or 'unknown'} is not supported; use JPEG, PNG, WebP or GIF."
            )
        width, height = probe.size
        if width < 1 or height < 1:
            raise InvalidInput("empty_image", "The image has no pixels.")
        if width * height > limits.max_pixels or max(width, height) > limits.max_side:
            raise PayloadTooLarge(
                "too_many_pixels",
                f"The image is {width}x{height}; limits are {limits.max_pixels} pixels and {limits.max_side} per side.",
            )
        try:
            probe.seek(0)  # first frame of a GIF/animated WebP
            probe.load()
            oriented = ImageOps.exif_transpose(probe)
            rgb = oriented.convert("RGB")
        except (OSError, SyntaxError, ValueError) as exc:
            # Pillow raises OSError("image file is truncated ...") for cut-off files.
            raise InvalidInput("corrupt_image", f"The image could not be decoded: {exc}") from exc
    return DecodedImage(image=rgb, sha256=digest, format=fmt)


class ImageCache:
    """Decoded images keyed by the SHA-256 of their bytes (a `shared.lru.LRUCache`), bounded by decoded bytes.

    A count bound let three 40 MP posts (120 MB each decoded) grow a stage by 1.3 GB; here the budget is
    `cache_mb`, an image over a quarter of it is decoded but not kept, and `cache_items` caps the count too.
    """

    def __init__(self, limits: ImageLimits) -> None:
        self._limits = limits
        max_bytes = int(limits.cache_mb * 1024 * 1024)
        self._lru: LRUCache[DecodedImage] = LRUCache(
            "decoded_image",
            max_items=limits.cache_items,
            max_bytes=max_bytes,
            size_of=decoded_bytes,
            max_item_bytes=max_bytes // 4,
        )

    def __len__(self) -> int:
        return len(self._lru)

    @property
    def max_bytes(self) -> int:
        return self._lru.max_bytes or 0

    @property
    def nbytes(self) -> int:
        return self._lru.nbytes

    @property
    def hits(self) -> int:
        return self._lru.hits

    @property
    def misses(self) -> int:
        return self._lru.misses

    def decode(self, data: bytes) -> DecodedImage:
        """The decoded image for these bytes, from the LRU when the same bytes came before. Stages get bytes
        from either request encoding (`shared.image_request`): base64 is undone before the cache, so both hit it."""
        digest = hashlib.sha256(data).hexdigest()
        cached = self._lru.get(digest)
        if cached is not None:
            return cached
        decoded = decode_image(data, self._limits, digest)
        self._lru.put(digest, decoded)
        return decoded


def decoded_bytes(decoded: DecodedImage) -> int:
    """Memory held by the decoded pixels (RGB: 3 bytes a pixel)."""
    return decoded.width * decoded.height * len(decoded.image.getbands())
