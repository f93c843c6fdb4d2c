"""decode_upload / sniff_image_type on generated images: every error code, EXIF, alpha."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from server.vision.image_io import ImageError, decode_upload, sniff_image_type
from tests.conftest import encode_image

MB = 1024 * 1024
BIG = 10 * MB
PIXELS = 40_000_000

RED_BGR = (0, 0, 255)
BLUE_BGR = (255, 0, 0)


def two_tone(width: int = 40, height: int = 20) -> np.ndarray:
    """Top half red, bottom half blue (BGR)."""
    img = np.zeros((height, width, 3), np.uint8)
    img[: height // 2] = RED_BGR
    img[height // 2 :] = BLUE_BGR
    return img


def noise(h: int = 120, w: int = 90, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` but holds no pixel data."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def decode(data: bytes, max_bytes: int = BIG, max_pixels: int = PIXELS) -> np.ndarray:
    return decode_upload(data, max_bytes, max_pixels)


def error_code(data: bytes, **limits: int) -> str:
    with pytest.raises(ImageError) as info:
        decode(data, **limits)
    return info.value.code


@pytest.mark.parametrize(("fmt", "kind"), [("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp")])
def test_sniff_recognises_the_three_formats(fmt: str, kind: str) -> None:
    assert sniff_image_type(encode_image(noise(), fmt)) == kind


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a" + b"\0" * 20,
        b"BM" + b"\0" * 40,
        b"%PDF-1.7\n",
        b"RIFF\x10\x00\x00\x00WAVEfmt ",
        b"\xff\xd8",  # too short for a JPEG marker
        "日本語".encode(),
    ],
)
def test_sniff_refuses_everything_else(data: bytes) -> None:
    assert sniff_image_type(data) is None


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_lossless_round_trip_is_exact(fmt: str) -> None:
    img = noise()
    out = decode(encode_image(img, fmt, **({"lossless": True} if fmt == "WEBP" else {})))
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, img)


def test_jpeg_round_trip_keeps_bgr_order() -> None:
    out = decode(encode_image(two_tone(64, 64), "JPEG", quality=95))
    assert out.shape == (64, 64, 3)
    assert np.abs(out[8, 32].astype(int) - RED_BGR).max() < 10
    assert np.abs(out[56, 32].astype(int) - BLUE_BGR).max() < 10


def test_byte_limit_is_checked_before_anything_else() -> None:
    # Garbage would be unsupported_type; over the limit it must be too_large first.
    assert error_code(b"\x00" * 2048, max_bytes=1024) == "too_large"
    valid = encode_image(noise(), "PNG")
    assert error_code(valid, max_bytes=len(valid) - 1) == "too_large"
    assert decode(valid, max_bytes=len(valid)).shape == (120, 90, 3)


def test_pixel_limit_is_read_from_the_header_without_decoding() -> None:
    # 7000x7000 claimed, no pixel data: decoding would fail as bad_image, the header
    # check answers first.
    assert error_code(png_header_only(7000, 7000)) == "too_large"
    assert error_code(encode_image(noise(100, 100), "JPEG"), max_pixels=9_999) == "too_large"
    assert decode(encode_image(noise(100, 100), "JPEG"), max_pixels=10_000).shape == (100, 100, 3)


def test_decompression_bomb_is_too_large() -> None:
    assert error_code(png_header_only(100_000, 100_000)) == "too_large"


@pytest.mark.parametrize(
    "data",
    [
        encode_image(noise(), "GIF"),
        encode_image(noise(), "BMP"),
        encode_image(noise(), "TIFF"),
        b"hello world, not an image at all",
        bytes(range(256)) * 4,
    ],
)
def test_other_types_are_unsupported(data: bytes) -> None:
    assert error_code(data) == "unsupported_type"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("keep", [0.3, 0.7, 0.95])
def test_truncated_files_are_bad_not_partial(fmt: str, keep: float) -> None:
    data = encode_image(noise(200, 160), fmt)
    assert error_code(data[: int(len(data) * keep)]) == "bad_image"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xd8\xff" + b"\x00" * 100,
        b"\x89PNG\r\n\x1a\n" + b"garbage" * 10,
        b"RIFF\x20\x00\x00\x00WEBPVP8 " + b"\x01" * 20,
    ],
)
def test_corrupt_or_empty_is_bad_image(data: bytes) -> None:
    assert error_code(data) == "bad_image"


def test_load_truncated_images_flag_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        decode(encode_image(noise(), "PNG"))


def _with_orientation(img: np.ndarray, orientation: int) -> bytes:
    pil = Image.fromarray(img[:, :, ::-1])
    exif = pil.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    pil.save(buf, "JPEG", quality=95, exif=exif)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("orientation", "shape", "red_at"),
    [
        (1, (20, 40, 3), (2, 20)),  # as stored: red on top
        (3, (20, 40, 3), (17, 20)),  # rotated 180: red at the bottom
        (6, (40, 20, 3), (20, 17)),  # rotate 90 clockwise to view: top goes right
        (8, (40, 20, 3), (20, 2)),  # rotate 90 counter-clockwise: top goes left
    ],
)
def test_exif_orientation_is_applied(
    orientation: int, shape: tuple[int, int, int], red_at: tuple[int, int]
) -> None:
    out = decode(_with_orientation(two_tone(), orientation))
    assert out.shape == shape
    assert np.abs(out[red_at].astype(int) - RED_BGR).max() < 40


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparent_pixels_become_white(mode: str) -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)  # fully transparent black
    rgba[:5, :, :] = (0, 0, 0, 255)  # top half opaque black
    pil = Image.fromarray(rgba, "RGBA")
    if mode == "LA":
        pil = pil.convert("LA")
    elif mode == "P":
        pil = pil.convert("P")
        pil.info["transparency"] = pil.getpixel((0, 9))
    out = decode(encode_image_pil(pil, "PNG"))
    np.testing.assert_array_equal(out[9, 9], (255, 255, 255))
    np.testing.assert_array_equal(out[0, 0], (0, 0, 0))


def encode_image_pil(pil: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    pil.save(buf, fmt)
    return buf.getvalue()


def test_greyscale_cmyk_and_16_bit_become_three_channels() -> None:
    grey = Image.fromarray(np.full((8, 8), 200, np.uint8), "L")
    np.testing.assert_array_equal(decode(encode_image_pil(grey, "JPEG"))[4, 4], (200,) * 3)
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # red in CMYK
    assert np.abs(decode(encode_image_pil(cmyk, "JPEG"))[4, 4].astype(int) - RED_BGR).max() < 10
    deep = Image.fromarray(np.full((8, 8), 65535, np.uint16))
    np.testing.assert_array_equal(decode(encode_image_pil(deep, "PNG"))[4, 4], (255,) * 3)


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_animations_give_their_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (16, 8), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    buf = io.BytesIO()
    extra = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, **extra)
    out = decode(buf.getvalue())
    assert out.shape == (8, 16, 3)
    np.testing.assert_array_equal(out[4, 8], RED_BGR)
