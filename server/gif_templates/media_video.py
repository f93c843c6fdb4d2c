"""Video input (MP4/MOV, Matroska/WebM, AVI) through PyAV, decoded safely and small.

The demuxer is forced from the file's magic bytes (no format probing), the file is
handed over as an open file object and any further URL FFmpeg might try to open is
limited to the ``file`` protocol. Frame size and frame count are checked against
:mod:`.media_limits` before the first frame is decoded; frames above ``max_fps`` are
skipped and the rest are scaled by swscale straight to at most ``max_side``, so a
1080p60 clip never sits in memory at full size.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from server.gif_templates.media_limits import MediaError, MediaHeader, check_header, fit_size
from server.types import Animation, Frame

_VIDEO_FALLBACK_FPS = 25.0
_FPS_TOLERANCE_S = 0.0015  # 33/34 ms frames of a 30 fps clip must not be dropped
_OPEN_OPTIONS = {"protocol_whitelist": "file"}


class VideoError(MediaError):
    """The video cannot be decoded (corrupt, no video stream, not a known container)."""


def video_demuxer(head: bytes) -> str | None:
    """The FFmpeg demuxer for a file starting with ``head`` (16 bytes), or None."""
    if head[4:8] == b"ftyp":
        return "mp4"  # FFmpeg's mov,mp4,m4a,3gp,3g2,mj2 demuxer
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"  # also WebM
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


def read_video(
    path: Path,
    max_seconds: float | None,
    max_side: int | None = None,
    max_fps: float | None = None,
) -> Animation:
    """Decode ``path`` to BGR frames (see the module docstring); VideoError if not."""
    import av  # local import: PyAV is only needed for video input

    with open(path, "rb") as fh:
        demuxer = video_demuxer(fh.read(16))
        if demuxer is None:
            raise VideoError(f"{path.name}: not an MP4, WebM/Matroska or AVI file")
        fh.seek(0)
        try:
            with av.open(
                fh, format=demuxer, options=_OPEN_OPTIONS, metadata_errors="replace"
            ) as container:
                starts, frames, rate = _decode(container, path.name, max_seconds, max_side, max_fps)
        except MediaError:
            raise
        except av.error.FFmpegError as exc:
            raise VideoError(f"{path.name}: cannot decode ({exc})") from exc
        except Exception as exc:  # PyAV on broken headers: ValueError, UnicodeError...
            raise VideoError(f"{path.name}: cannot decode ({type(exc).__name__})") from exc
    if not frames:
        raise VideoError(f"{path.name}: no frames")
    return Animation(frames, _durations_from_starts(starts, 1.0 / rate), 0)


def _decode(
    container: Any,
    name: str,
    max_seconds: float | None,
    max_side: int | None,
    max_fps: float | None,
) -> tuple[list[float], list[Frame], float]:
    if not container.streams.video:
        raise VideoError(f"{name}: no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise VideoError(f"{name}: unknown video codec")
    rate = float(stream.average_rate or stream.guessed_rate or _VIDEO_FALLBACK_FPS)
    width, height = int(stream.codec_context.width), int(stream.codec_context.height)
    check_header(MediaHeader(width, height, _frame_estimate(stream, rate, max_seconds)), name, None)
    size = fit_size(width, height, max_side)
    keep = _FrameRate(max_fps)
    starts: list[float] = []
    frames: list[Frame] = []
    for index, frame in enumerate(container.decode(stream)):
        start = _frame_time(frame.pts, frame.time_base, index / rate)
        if max_seconds is not None and starts and starts[-1] >= max_seconds:
            break
        if not keep(start):
            continue
        starts.append(start)
        frames.append(_to_bgr(frame, size))
    return starts, frames, rate


def _frame_estimate(stream: Any, rate: float, max_seconds: float | None) -> int:
    """Frames the decoder may go through: the declared count, capped by the time limit."""
    declared = int(stream.frames or 0)
    if max_seconds is None:
        return max(declared, 1)
    by_time = math.ceil(max_seconds * rate) + 1
    return min(declared, by_time) if declared > 0 else by_time


class _FrameRate:
    """Keeps frames at most ``max_fps`` apart (each kept frame lasts until the next)."""

    def __init__(self, max_fps: float | None) -> None:
        self._step = 1.0 / max_fps if max_fps else 0.0
        self._next = -math.inf

    def __call__(self, start: float) -> bool:
        if start < self._next - _FPS_TOLERANCE_S:
            return False
        self._next = max(self._next + self._step, start + self._step - _FPS_TOLERANCE_S)
        return True


def _to_bgr(frame: Any, size: tuple[int, int] | None) -> Frame:
    if size is None:
        array = frame.to_ndarray(format="bgr24")
    else:
        array = frame.to_ndarray(
            format="bgr24", width=size[0], height=size[1], interpolation="AREA"
        )
    return np.ascontiguousarray(array, np.uint8)


def _frame_time(pts: int | None, time_base: Fraction | None, fallback: float) -> float:
    return float(pts * time_base) if pts is not None and time_base is not None else fallback


def _durations_from_starts(starts: list[float], last_s: float) -> list[int]:
    """Millisecond durations from frame start times, rounded on the cumulative timeline."""
    origin = starts[0]
    ends = [*starts[1:], starts[-1] + last_s]
    edges = [0, *(round((t - origin) * 1000) for t in ends)]
    return [max(1, b - a) for a, b in itertools.pairwise(edges)]
