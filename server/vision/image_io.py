"""Safe decoding of uploaded selfies: size limits first, type sniffed from the bytes,
pixel count and shape read from the header before any pixel is decoded, truncated
files refused.

Memory is bounded by design: a JPEG is decoded at a reduced DCT scale (draft mode)
when it is larger than needed, every image is shrunk to ``max_side`` in its stored
mode right after decoding (before any conversion copies it), and the decoded buffer
must fit ``max_decode_bytes``. Alpha is flattened onto white (a transparent
background reads as a plain studio backdrop, which face detection handles better
than black).
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Iterator
from typing import Literal

import numpy as np
from PIL import Image, ImageFile

from server.types import Frame

ImageType = Literal["jpeg", "png", "webp"]
ImageErrorCode = Literal[
    "bad_image",
    "too_large",
    "unsupported_type",
    "too_small",
    "extreme_aspect",
    "blank_image",
    "animated_image",
]

_PIL_FORMAT: dict[ImageType, str] = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
_BACKGROUND = (255, 255, 255)
# Bytes per pixel of each mode Pillow may decode an upload to (RGB is stored as 4).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 4, "PA": 4, "I;16": 2, "I;16B": 2, "I;16L": 2}
_DEFAULT_MODE_BYTES = 4
# EXIF orientation -> the transpose that shows the image upright.
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION_TAG = 0x0112
_BAND_ROWS = 256  # rows per band when reducing large images
_RESIZABLE = frozenset({"L", "LA", "RGB", "RGBA", "I", "F", "CMYK", "YCbCr"})


class ImageError(Exception):
    """An upload that cannot be used; ``code`` is the API error code."""

    def __init__(self, code: ImageErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ImageErrorCode = code
        self.message = message


def sniff_image_type(data: bytes) -> ImageType | None:
    """The image type from its magic bytes (never from a name or declared type)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def decode_upload(
    data: bytes,
    max_bytes: int,
    max_pixels: int,
    *,
    max_side: int | None = None,
    max_decode_bytes: int | None = None,
) -> Frame:
    """Decode an uploaded JPEG/PNG/WebP to a BGR uint8 frame, upright per EXIF.

    ``max_side`` shrinks the result (aspect kept) while decoding; ``max_decode_bytes``
    caps the buffer the decoder may allocate. Raises :class:`ImageError`:
    ``too_large`` (bytes, header pixel count or decode buffer over the limits; nothing
    decoded), ``unsupported_type`` (not one of the three formats), ``bad_image``
    (empty, corrupt or truncated). Animations give their first frame.
    """
    with bombs_raise():
        image = open_upload(data, max_bytes, max_pixels)
        return decode_image(image, max_side, max_decode_bytes)


@contextlib.contextmanager
def bombs_raise() -> Iterator[None]:
    """Pillow's decompression-bomb warning raised as an error, whatever the filters."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def open_upload(data: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    """Check the bytes and open the image lazily (header only) with the format forced
    to the sniffed one; refuses images with too many pixels."""
    if len(data) > max_bytes:
        raise ImageError("too_large", f"image is {len(data)} bytes; the limit is {max_bytes}")
    if not data:
        raise ImageError("bad_image", "image is empty")
    kind = sniff_image_type(data)
    if kind is None:
        raise ImageError("unsupported_type", "only JPEG, PNG and WebP images are accepted")
    try:
        image = Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[kind]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("too_large", "image has too many pixels") from None
    except MemoryError:  # over the process's memory cap: not the file's fault
        raise
    except Exception as exc:  # Pillow raises many types for bad headers
        raise ImageError("bad_image", f"cannot read {kind} image header") from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError("bad_image", "image has no pixels")
    if width * height > max_pixels:
        raise ImageError(
            "too_large", f"image is {width}x{height} pixels; the limit is {max_pixels} pixels"
        )
    return image


def decode_image(
    image: Image.Image, max_side: int | None = None, max_decode_bytes: int | None = None
) -> Frame:
    """Decode an image opened by :func:`open_upload` to an upright BGR uint8 frame."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # a global someone flipped: never serve partial data
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    if max_side is not None and image.format == "JPEG":
        image.draft(None, _fit(image.size, max_side))  # DCT-scaled decode, >= the target
    _check_buffer(image, max_decode_bytes)
    try:
        image.seek(0)
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("too_large", "image has too many pixels") from None
    except MemoryError:
        raise
    except Exception as exc:  # truncated or corrupt data: OSError, SyntaxError, ValueError...
        raise ImageError("bad_image", "image data is corrupt or truncated") from exc
    # Read only now: Pillow loads a whole PNG to look for an eXIf chunk after the pixels,
    # which before the buffer check would decode an image the budget refuses.
    orientation = _orientation(image)
    try:
        small = _shrink(image, max_side)
        if orientation in _ORIENTATION:
            small = small.transpose(_ORIENTATION[orientation])
        rgb = _to_rgb(small)
    except MemoryError:
        raise
    except Exception as exc:
        raise ImageError("bad_image", f"cannot convert {image.mode} image to RGB") from exc
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[:, :, ::-1])


def _orientation(image: Image.Image) -> int:
    """EXIF orientation (1 when absent or malformed: keep the pixels as stored)."""
    try:
        value = image.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) else 1


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled (never up) so its longer side is at most ``max_side``."""
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _check_buffer(image: Image.Image, max_decode_bytes: int | None) -> None:
    """Refuse before decoding when the decoder's buffer would exceed the budget."""
    if max_decode_bytes is None:
        return
    width, height = image.size
    needed = width * height * _MODE_BYTES.get(image.mode, _DEFAULT_MODE_BYTES)
    if needed > max_decode_bytes:
        raise ImageError(
            "too_large",
            f"a {width}x{height} {image.mode} image needs {needed} bytes to decode; "
            f"the limit is {max_decode_bytes}",
        )


def _shrink(image: Image.Image, max_side: int | None) -> Image.Image:
    """Downscale to ``max_side``: an integer box reduction done band by band (so no
    full-size converted copy ever exists), then a Lanczos resize of the small image."""
    if max_side is None or max(image.size) <= max_side:
        return image
    factor = max(image.size) // max_side
    if factor >= 2 or image.mode not in _RESIZABLE:
        image = _reduce_in_bands(image, max(factor, 1))
    return image.resize(_fit(image.size, max_side), Image.Resampling.LANCZOS)


def _reduce_in_bands(image: Image.Image, factor: int) -> Image.Image:
    """``image.reduce(factor)`` (in a mode Pillow can reduce), a band of rows at a time;
    exact, since bands start on multiples of ``factor``."""
    width, height = image.size
    mode = _reducible_mode(image)
    out = Image.new(mode, (math.ceil(width / factor), math.ceil(height / factor)))
    rows = factor * max(1, _BAND_ROWS // factor)
    for top in range(0, height, rows):
        band = _convert_band(image.crop((0, top, width, min(height, top + rows))), mode)
        out.paste(band.reduce(factor) if factor > 1 else band, (0, top // factor))
    return out


def _reducible_mode(image: Image.Image) -> str:
    if image.mode in ("1", "P", "PA"):
        return "RGBA" if _has_alpha(image) else "RGB"
    if image.mode.startswith("I;16"):
        return "L"
    return image.mode


def _convert_band(band: Image.Image, mode: str) -> Image.Image:
    if band.mode == mode:
        return band
    if band.mode.startswith("I;16"):  # 16-bit grey: keep the high byte
        return Image.fromarray((np.asarray(band, np.uint16) >> 8).astype(np.uint8))
    return band.convert(mode)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    if not _has_alpha(image):
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            # 16-bit greyscale: scale down to 8 bits before the RGB conversion
            grey = np.asarray(image, dtype=np.float32)
            peak = 65535.0 if image.mode.startswith("I;16") else max(float(grey.max()), 1.0)
            image = Image.fromarray(np.clip(grey * (255.0 / peak), 0, 255).astype(np.uint8))
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
