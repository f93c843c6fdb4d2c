"""What a selfie must be before any face code sees it.

:func:`decode_selfie` adds the selfie policy to the generic upload decoder: one still
picture (no animation), at least ``MIN_SIDE`` pixels on its short side, no stranger
than ``MAX_ASPECT`` to one, not one flat colour, decoded at most ``max_side`` pixels
on its long side and within a decode-buffer budget. Everything is checked from the
header where it can be, so nothing degenerate reaches dlib or another C library.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from server.types import Frame
from server.vision.image_io import ImageError, bombs_raise, decode_image, open_upload

MIN_SIDE = 32  # px: far below any detectable face; smaller images are never selfies
MAX_ASPECT = 8.0  # long side / short side
BLANK_SPREAD = 6  # grey levels: an image whose channels vary less than this is blank
# Decoded RGB bytes per file byte above which a lossless file cannot be a photograph
# (photos compress 2-20x losslessly; a 35 KB 6000x6000 PNG is 3000x). Refused unread.
MAX_LOSSLESS_RATIO = 1000


@dataclass(frozen=True)
class SelfieLimits:
    """Per-selfie limits (the API's are built from settings)."""

    max_bytes: int
    max_pixels: int
    max_side: int = 2048
    max_decode_bytes: int = 192 * 1024 * 1024


def decode_selfie(data: bytes, limits: SelfieLimits) -> Frame:
    """An upright BGR uint8 frame of at most ``limits.max_side`` px, or ImageError:
    the decoder's codes plus ``animated_image``, ``too_small``, ``extreme_aspect`` and
    ``blank_image``."""
    with bombs_raise():
        image = open_upload(data, limits.max_bytes, limits.max_pixels)
        check_header(image)
        check_ratio(image, len(data))
        frame = decode_image(image, limits.max_side, limits.max_decode_bytes)
    check_pixels(frame)
    return frame


def check_header(image: Image.Image) -> None:
    """Refuse animations and degenerate shapes from the header alone."""
    if getattr(image, "n_frames", 1) > 1:
        raise ImageError("animated_image", "send a still picture, not an animation")
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise ImageError(
            "too_small", f"image is {width}x{height}; both sides must be at least {MIN_SIDE} px"
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageError(
            "extreme_aspect",
            f"image is {width}x{height}; the long side may be at most {MAX_ASPECT:g} times "
            "the short one",
        )


def check_ratio(image: Image.Image, size: int) -> None:
    """Refuse a PNG/WebP whose pixels would decompress to more than
    ``MAX_LOSSLESS_RATIO`` times its size (JPEG is decoded at reduced scale anyway)."""
    if image.format == "JPEG":
        return
    width, height = image.size
    if width * height * 3 > MAX_LOSSLESS_RATIO * size:
        raise ImageError(
            "too_large",
            f"a {size}-byte file would decode to {width}x{height} pixels: more than "
            f"{MAX_LOSSLESS_RATIO} times its size",
        )


def check_pixels(frame: Frame) -> None:
    """Refuse a frame that is (nearly) one flat colour: there is nothing to find in it."""
    spread = frame.max(axis=(0, 1)).astype(np.int16) - frame.min(axis=(0, 1))
    if int(spread.max()) < BLANK_SPREAD:
        raise ImageError("blank_image", "image is a single flat colour")
