"""Decode animations (GIF, WebP, video) to composited BGR frames, normalise them and
write good-quality GIFs (the writer lives in :mod:`.gif_writer`).

Timing is kept in integer milliseconds per frame. GIF stores centiseconds, so
:func:`write_gif` rounds the *cumulative* timeline to 10 ms, which keeps the total
duration exact instead of drifting frame by frame.
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from server.gif_templates.gif_writer import gif_delays, write_gif
from server.gif_templates.media_limits import (
    MediaError,
    MediaHeader,
    MediaLimitError,
    check_header,
    fit_size,
)
from server.gif_templates.media_video import read_video, video_demuxer
from server.types import Animation, Frame

__all__ = [
    "MediaError",
    "MediaLimitError",
    "UnsupportedMediaError",
    "gif_delays",
    "gif_screen",
    "normalise",
    "read_animation",
    "sha256_file",
    "sniff_format",
    "total_ms",
    "write_gif",
]

# Browsers show GIF frames declared as 0 or 10 ms for 100 ms; we read them the same way.
BROWSER_MIN_DELAY_MS = 10
BROWSER_DEFAULT_DELAY_MS = 100
_PIL_FORMATS = {"gif": "GIF", "webp": "WEBP"}


class UnsupportedMediaError(MediaError):
    """The file is not a GIF, WebP or video this module can read."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (templates are identified by their source bytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sniff_format(path: str | os.PathLike[str]) -> str:
    """'gif', 'webp', 'video' or 'unknown', from the file's first bytes (not its name)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if video_demuxer(head) is not None:  # MP4/MOV, Matroska/WebM, AVI
        return "video"
    return "unknown"


def gif_screen(path: str | os.PathLike[str]) -> tuple[int, int]:
    """A GIF's logical screen (width, height), from its header."""
    with open(path, "rb") as fh:
        head = fh.read(10)
    width, height = struct.unpack("<HH", head[6:10])
    return int(width), int(height)


def total_ms(anim: Animation) -> int:
    return int(sum(anim.durations_ms))


def read_animation(
    path: str | os.PathLike[str],
    max_seconds: float | None = None,
    max_side: int | None = None,
    max_fps: float | None = None,
) -> Animation:
    """Decode a GIF, WebP (animated or still) or video file as a viewer would show it.

    Frames are fully composited BGR uint8 (GIF disposal and partial frames applied,
    transparency shown over white). ``max_seconds`` stops decoding once a frame starts
    at or after that time; ``max_side`` downscales each frame as soon as it is decoded
    (aspect kept, area filter); ``max_fps`` skips video frames above that rate. Frame
    size and count are checked from the header first (:mod:`.media_limits`):
    MediaLimitError when decoding would cost too much.
    """
    kind = sniff_format(path)
    if kind in ("gif", "webp"):
        return _read_pillow(Path(path), kind, max_seconds, max_side)
    if kind == "video":
        return read_video(Path(path), max_seconds, max_side, max_fps)
    raise UnsupportedMediaError(f"{Path(path).name}: not a GIF, WebP or MP4/WebM video")


def _read_pillow(
    path: Path, kind: str, max_seconds: float | None, max_side: int | None
) -> Animation:
    try:
        with Image.open(path, formats=[_PIL_FORMATS[kind]]) as im:
            header = MediaHeader(im.width, im.height, getattr(im, "n_frames", 1))
            check_header(header, path.name, max_seconds)
            anim = _decode_frames(im, max_seconds, fit_size(im.width, im.height, max_side))
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:
        raise MediaLimitError(f"{path.name}: too many pixels ({exc})") from None
    except Exception as exc:  # Pillow raises many types for corrupt data
        raise MediaError(f"{path.name}: cannot decode ({type(exc).__name__})") from exc
    if not anim.frames:
        raise MediaError(f"{path.name}: no frames")
    return anim


def _decode_frames(
    im: Image.Image, max_seconds: float | None, size: tuple[int, int] | None
) -> Animation:
    frames: list[Frame] = []
    durations: list[int] = []
    for index in range(getattr(im, "n_frames", 1)):
        im.seek(index)
        im.load()  # WebP sets the frame's duration only when it is decoded
        durations.append(_viewer_delay(im.info.get("duration")))
        frame = _to_bgr(im)
        if size is not None:
            frame = np.ascontiguousarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
        frames.append(frame)
        if max_seconds is not None and sum(durations) >= max_seconds * 1000:
            break
    return Animation(frames, durations, _pillow_loop(im))


def _viewer_delay(value: object) -> int:
    delay = int(value) if isinstance(value, int | float) else 0
    return BROWSER_DEFAULT_DELAY_MS if delay <= BROWSER_MIN_DELAY_MS else delay


def _pillow_loop(im: Image.Image) -> int:
    """NETSCAPE loop count; a GIF without the block plays once, read as loop=1."""
    loop = im.info.get("loop")
    return int(loop) if isinstance(loop, int) else 1


def _to_bgr(im: Image.Image) -> Frame:
    has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    if not has_alpha:
        return np.ascontiguousarray(np.asarray(im.convert("RGB"))[:, :, ::-1])
    rgba = np.asarray(im.convert("RGBA"))
    alpha = rgba[:, :, 3:]
    if alpha.min() == 255:  # composited GIF frames are usually opaque everywhere
        return np.ascontiguousarray(rgba[:, :, 2::-1])
    # Transparent pixels show white, as on a page.
    a = alpha.astype(np.uint16)
    rgb = (rgba[:, :, :3].astype(np.uint16) * a + 255 * (255 - a) + 127) // 255
    return np.ascontiguousarray(rgb[:, :, ::-1].astype(np.uint8))


# -- normalisation ----------------------------------------------------------------------
def normalise(
    anim: Animation, max_side: int = 480, max_seconds: float = 10.0, max_fps: float = 30.0
) -> tuple[Animation, bool]:
    """Fit an animation into the limits; returns it and whether anything changed.

    Downscales with INTER_AREA (aspect kept), trims to ``max_seconds`` (the last kept
    frame is shortened to end exactly there) and drops frames above ``max_fps``, giving
    each dropped frame's time to the frame before it so the timing is preserved.
    """
    frames, durations = list(anim.frames), list(anim.durations_ms)
    changed = False
    frames, durations, trimmed = _trim(frames, durations, int(round(max_seconds * 1000)))
    frames, durations, dropped = _limit_fps(frames, durations, max_fps)
    frames, resized = _downscale(frames, max_side)
    changed = trimmed or dropped or resized
    return (Animation(frames, durations, anim.loop) if changed else anim), changed


def _trim(
    frames: list[Frame], durations: list[int], limit_ms: int
) -> tuple[list[Frame], list[int], bool]:
    if sum(durations) <= limit_ms:
        return frames, durations, False
    kept_f: list[Frame] = []
    kept_d: list[int] = []
    t = 0
    for frame, d in zip(frames, durations, strict=True):
        if t >= limit_ms:
            break
        kept_f.append(frame)
        kept_d.append(min(d, limit_ms - t))
        t += d
    return kept_f, kept_d, True


def _limit_fps(
    frames: list[Frame], durations: list[int], max_fps: float
) -> tuple[list[Frame], list[int], bool]:
    step = 1000.0 / max_fps
    tolerance = 1.5  # ms: integer rounding of 33/34 ms frames must not drop a 30 fps frame
    if min(durations) >= step - tolerance:
        return frames, durations, False
    kept_f: list[Frame] = []
    kept_d: list[int] = []
    t = 0
    next_allowed = 0.0
    for frame, d in zip(frames, durations, strict=True):
        if t >= next_allowed - tolerance:
            kept_f.append(frame)
            kept_d.append(d)
            next_allowed = max(next_allowed + step, t + step - tolerance)
        else:
            kept_d[-1] += d
        t += d
    return kept_f, kept_d, len(kept_f) != len(frames)


def _downscale(frames: list[Frame], max_side: int) -> tuple[list[Frame], bool]:
    h, w = frames[0].shape[:2]
    if max(h, w) <= max_side:
        return frames, False
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized: list[Frame] = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]  # type: ignore[misc]
    return resized, True
