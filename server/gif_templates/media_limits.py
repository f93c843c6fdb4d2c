"""What an animation may cost to decode, read from its header before any pixel is.

A GIF's logical screen, a WebP's canvas or a video's frame size is the size of every
decoded frame, and the frame count multiplies it: a 9 KB GIF can declare a 4000x4000
screen with 400 one-pixel frames, i.e. 19 GB of composited pixels. The limits below
refuse such files up front; frames that pass are downscaled as they are decoded, so
memory stays near one full-size frame plus the kept small ones.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_CANVAS_PIXELS = 4096 * 4096  # one decoded frame (4K video fits)
MAX_CANVAS_SIDE = 16384
# Decoded pixels over the frames a decoder goes through (11 s of 4K at 30 fps fits).
MAX_PIXEL_FRAMES = 3_000_000_000
# GIF delays of 10 ms or less play as 100 ms, so 20 ms is the shortest frame that counts:
# a decoder stopping after ``max_seconds`` decodes at most max_seconds / 20 ms + 1 frames.
MIN_COUNTED_DELAY_MS = 20


class MediaError(ValueError):
    """The file cannot be decoded as an animation (corrupt, empty, unsupported)."""


class MediaLimitError(MediaError):
    """The file declares more pixels than the importer decodes."""


@dataclass(frozen=True)
class MediaHeader:
    """Sizes read from a header: frame size and the number of frames declared."""

    width: int
    height: int
    frames: int


def frames_to_decode(declared: int, max_seconds: float | None) -> int:
    """How many frames a decoder stopping after ``max_seconds`` may decode at most."""
    if max_seconds is None or declared <= 0:
        return max(declared, 1)
    return min(declared, int(max_seconds * 1000 / MIN_COUNTED_DELAY_MS) + 1)


def check_header(header: MediaHeader, name: str, max_seconds: float | None) -> None:
    """Refuse a canvas too large, or too many canvas pixels over the decoded frames."""
    width, height = header.width, header.height
    if width <= 0 or height <= 0:
        raise MediaLimitError(f"{name}: declares a {width}x{height} frame")
    if max(width, height) > MAX_CANVAS_SIDE or width * height > MAX_CANVAS_PIXELS:
        raise MediaLimitError(
            f"{name}: {width}x{height} frames are over the limit of {MAX_CANVAS_PIXELS} "
            f"pixels ({MAX_CANVAS_SIDE} px a side)"
        )
    frames = frames_to_decode(header.frames, max_seconds)
    if width * height * frames > MAX_PIXEL_FRAMES:
        raise MediaLimitError(
            f"{name}: {frames} frames of {width}x{height} are over the limit of "
            f"{MAX_PIXEL_FRAMES} decoded pixels"
        )


def fit_size(width: int, height: int, max_side: int | None) -> tuple[int, int] | None:
    """The (width, height) to downscale to so the longer side is ``max_side``; None
    when the frame already fits."""
    if max_side is None or max(width, height) <= max_side:
        return None
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))
