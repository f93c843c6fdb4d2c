"""Decode animations (GIF, WebP, video) to composited BGR frames, normalise them and
write good-quality GIFs (the writer lives in :mod:`.gif_writer`).

Timing is kept in integer milliseconds per frame. GIF stores centiseconds, so
:func:`write_gif` rounds the *cumulative* timeline to 10 ms, which keeps the total
duration exact instead of drifting frame by frame.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from server.gif_templates.gif_writer import gif_delays, write_gif
from server.types import Animation, Frame

__all__ = [
    "MediaError",
    "UnsupportedMediaError",
    "gif_delays",
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
_VIDEO_FALLBACK_FPS = 25.0


class MediaError(ValueError):
    """The file cannot be decoded as an animation (corrupt, empty, unsupported)."""


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
    if head[4:8] == b"ftyp" or head[:4] in (b"\x1a\x45\xdf\xa3", b"RIFF"):  # MP4/MOV, MKV/WebM, AVI
        return "video"
    return "unknown"


def total_ms(anim: Animation) -> int:
    return int(sum(anim.durations_ms))


def read_animation(path: str | os.PathLike[str], max_seconds: float | None = None) -> Animation:
    """Decode a GIF, WebP (animated or still) or video file as a viewer would show it.

    Frames are fully composited BGR uint8 (GIF disposal and partial frames applied,
    transparency shown over white). ``max_seconds`` stops decoding once a frame starts
    at or after that time (a guard against decoding long videos into memory).
    """
    kind = sniff_format(path)
    if kind in ("gif", "webp"):
        return _read_pillow(Path(path), max_seconds)
    if kind == "video":
        return _read_video(Path(path), max_seconds)
    raise UnsupportedMediaError(f"{Path(path).name}: not a GIF, WebP or MP4/WebM video")


def _read_pillow(path: Path, max_seconds: float | None) -> Animation:
    frames: list[Frame] = []
    durations: list[int] = []
    try:
        with Image.open(path) as im:
            n_frames = getattr(im, "n_frames", 1)
            for index in range(n_frames):
                im.seek(index)
                im.load()  # WebP sets the frame's duration only when it is decoded
                durations.append(_viewer_delay(im.info.get("duration")))
                frames.append(_to_bgr(im))
                if max_seconds is not None and sum(durations) >= max_seconds * 1000:
                    break
            loop = _pillow_loop(im)
    except (OSError, EOFError, SyntaxError) as exc:
        raise MediaError(f"{path.name}: cannot decode ({exc})") from exc
    if not frames:
        raise MediaError(f"{path.name}: no frames")
    return Animation(frames, durations, loop)


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


def _read_video(path: Path, max_seconds: float | None) -> Animation:
    import av  # local import: PyAV is only needed for video input

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path.name}: no video stream")
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or _VIDEO_FALLBACK_FPS)
            frames: list[Frame] = []
            starts: list[float] = []
            for frame in container.decode(stream):
                starts.append(_frame_time(frame.pts, frame.time_base, len(starts) / rate))
                frames.append(np.ascontiguousarray(frame.to_ndarray(format="bgr24"), np.uint8))
                if max_seconds is not None and starts[-1] >= max_seconds:
                    break
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path.name}: cannot decode ({exc})") from exc
    if not frames:
        raise MediaError(f"{path.name}: no frames")
    return Animation(frames, _durations_from_starts(starts, 1.0 / rate), 0)


def _frame_time(pts: int | None, time_base: Fraction | None, fallback: float) -> float:
    return float(pts * time_base) if pts is not None and time_base is not None else fallback


def _durations_from_starts(starts: list[float], last_s: float) -> list[int]:
    """Millisecond durations from frame start times, rounded on the cumulative timeline."""
    origin = starts[0]
    ends = [*starts[1:], starts[-1] + last_s]
    edges = [0, *(round((t - origin) * 1000) for t in ends)]
    return [max(1, b - a) for a, b in itertools.pairwise(edges)]


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
