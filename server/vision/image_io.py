"""Safe decoding of uploaded selfies: size limits first, type sniffed from the bytes,
pixel count read from the header before any pixel is decoded, truncated files refused.

Alpha is flattened onto white (a transparent background reads as a plain studio
backdrop, which face detection handles better than black).
"""

from __future__ import annotations

import io
import warnings
from typing import Literal

import numpy as np
from PIL import Image, ImageFile, ImageOps

from server.types import Frame

ImageType = Literal["jpeg", "png", "webp"]
ImageErrorCode = Literal["bad_image", "too_large", "unsupported_type"]

_PIL_FORMAT: dict[ImageType, str] = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
_BACKGROUND = (255, 255, 255)


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


def decode_upload(data: bytes, max_bytes: int, max_pixels: int) -> Frame:
    """Decode an uploaded JPEG/PNG/WebP to a BGR uint8 frame, upright per EXIF.

    Raises :class:`ImageError`: ``too_large`` (bytes or header pixel count over the
    limits; nothing decoded), ``unsupported_type`` (not one of the three formats),
    ``bad_image`` (empty, corrupt or truncated). Animations give their first frame.
    """
    if len(data) > max_bytes:
        raise ImageError("too_large", f"image is {len(data)} bytes; the limit is {max_bytes}")
    if not data:
        raise ImageError("bad_image", "image is empty")
    kind = sniff_image_type(data)
    if kind is None:
        raise ImageError("unsupported_type", "only JPEG, PNG and WebP images are accepted")
    # Pillow's own bomb check must also raise, not warn, whatever the warning filters.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _open_checked(data, kind, max_pixels)
        rgb = _decode(image)
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[:, :, ::-1])


def _open_checked(data: bytes, kind: ImageType, max_pixels: int) -> Image.Image:
    """Open lazily (header only) and refuse images with too many pixels."""
    try:
        image = Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[kind]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("too_large", "image has too many pixels") from None
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


def _decode(image: Image.Image) -> Image.Image:
    """Full decode of the first frame, EXIF transpose and conversion to RGB."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # a global someone flipped: never serve partial data
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    try:
        image.seek(0)
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("too_large", "image has too many pixels") from None
    except Exception as exc:  # truncated or corrupt data: OSError, SyntaxError, ValueError...
        raise ImageError("bad_image", "image data is corrupt or truncated") from exc
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # malformed EXIF: keep the pixels as stored rather than refuse
        upright = image
    try:
        return _to_rgb(upright)
    except Exception as exc:
        raise ImageError("bad_image", f"cannot convert {image.mode} image to RGB") from exc


def _to_rgb(image: Image.Image) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if not has_alpha:
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            # 16-bit greyscale: scale down to 8 bits before the RGB conversion
            grey = np.asarray(image, dtype=np.float32)
            peak = 65535.0 if image.mode.startswith("I;16") else max(float(grey.max()), 1.0)
            image = Image.fromarray(np.clip(grey * (255.0 / peak), 0, 255).astype(np.uint8))
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
