from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

from shared.errors import APIError
from shared.images import ImageCache, decode_base64, decode_image
from shared.settings import ImageLimits
from tests.conftest import image_bytes

LIMITS = ImageLimits(max_bytes=2_000_000, max_pixels=4_000_000, max_side=4000, cache_items=2)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_supported_formats_decode_to_rgb(fmt: str) -> None:
    decoded = decode_image(image_bytes(fmt, (40, 30)), LIMITS)
    assert (decoded.width, decoded.height) == (40, 30)
    assert decoded.image.mode == "RGB"
    assert decoded.format == fmt


def test_gif_first_frame_is_used() -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    decoded = decode_image(buffer.getvalue(), LIMITS)
    red, _, blue = decoded.image.getpixel((4, 4))
    assert red > 200 and blue < 50


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (60, 20), (0, 128, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    decoded = decode_image(buffer.getvalue(), LIMITS)
    assert (decoded.width, decoded.height) == (20, 60)


def _code(data: bytes, limits: ImageLimits = LIMITS) -> tuple[int, str]:
    with pytest.raises(APIError) as info:
        decode_image(data, limits)
    return info.value.status_code, info.value.code


def test_empty_bytes() -> None:
    assert _code(b"") == (400, "empty_image")


def test_not_an_image() -> None:
    assert _code(b"this is a text file, not a picture") == (415, "not_an_image")


@pytest.mark.parametrize("keep", [0.5, 0.1])
def test_truncated_image(keep: float) -> None:
    # Cut in the pixel data, or already inside the header segments (where `Image.open` itself fails).
    data = image_bytes("JPEG", (200, 200))
    assert _code(data[: int(len(data) * keep)]) == (400, "corrupt_image")


def test_unsupported_format() -> None:
    assert _code(image_bytes("BMP")) == (415, "unsupported_format")


def test_too_many_bytes() -> None:
    assert _code(image_bytes("PNG"), ImageLimits(max_bytes=10)) == (413, "image_too_large")


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG header that declares a huge image: the decompression-bomb shape."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_too_many_pixels_is_refused_before_decoding() -> None:
    assert _code(_bomb_png(30_000, 30_000)) == (413, "too_many_pixels")


def test_side_limit() -> None:
    assert _code(image_bytes("PNG", (4001, 1))) == (413, "too_many_pixels")


def test_base64_round_trip_with_data_url_and_missing_padding() -> None:
    raw = b"\x89PNGabc"
    encoded = base64.b64encode(raw).decode().rstrip("=")
    assert decode_base64(encoded) == raw
    assert decode_base64("data:image/png;base64," + encoded) == raw


def test_malformed_base64() -> None:
    with pytest.raises(APIError) as info:
        decode_base64("not*base64!")
    assert (info.value.status_code, info.value.code) == (400, "invalid_base64")


def test_cache_hits_and_evicts() -> None:
    cache = ImageCache(LIMITS)
    a, b, c = (image_bytes("PNG", (8, 8), (i, i, i)) for i in (1, 2, 3))
    first = cache.decode(a)
    assert cache.decode(a) is first
    cache.decode(b)
    cache.decode(c)  # evicts `a` (2 items)
    assert cache.decode(a) is not first
    assert (cache.hits, cache.misses) == (1, 4)
