"""Encoders for rendered frames: GIF (delta against the template, see :mod:`.gif`),
MP4 (H.264 through PyAV) and animated WebP (Pillow). Each keeps the frame count and
every frame's duration; GIF and WebP keep the loop count (MP4 has none)."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from server.render import gif
from server.types import Frame, OutputFormat

Progress = Callable[[float], None]


def encode(
    fmt: OutputFormat,
    frames: Sequence[Frame],
    templates: Sequence[Frame],
    durations_ms: Sequence[int],
    loop: int,
    progress: Progress | None = None,
) -> bytes:
    """Encode output ``frames`` (BGR) made from ``templates`` (same length)."""
    if fmt == "gif":
        return encode_gif(frames, templates, durations_ms, loop, progress)
    if fmt == "mp4":
        return encode_mp4(frames, durations_ms, progress)
    if fmt == "webp":
        return encode_webp(frames, durations_ms, loop)
    raise ValueError(f"unknown output format {fmt!r}")


def encode_gif(
    frames: Sequence[Frame],
    templates: Sequence[Frame],
    durations_ms: Sequence[int],
    loop: int,
    progress: Progress | None = None,
) -> bytes:
    packed = [gif.pack(f) for f in frames]
    originals = [gif.pack(t) for t in templates]
    faces = gif.face_palette(frames, [p != o for p, o in zip(packed, originals, strict=True)])
    deltas = []
    for i, p in enumerate(packed):
        deltas.append(gif.encode_delta(p, packed[i - 1] if i else None, originals[i], faces))
        if progress is not None:
            progress((i + 1) / len(packed))
    h, w = frames[0].shape[:2]
    return gif.write_gif(deltas, (w, h), durations_ms, loop)


def encode_mp4(
    frames: Sequence[Frame], durations_ms: Sequence[int], progress: Progress | None = None
) -> bytes:
    """H.264 in MP4 (yuv420p, so odd sizes are padded by one pixel), exact frame
    times on a millisecond clock, fast start for streaming."""
    fps = Fraction(1000 * len(durations_ms), max(1, int(sum(durations_ms)))).limit_denominator(1000)
    # faststart rewrites the file after encoding, which PyAV cannot do on a BytesIO.
    with tempfile.TemporaryDirectory(prefix="faceloop-mp4-") as tmp:
        path = Path(tmp) / "out.mp4"
        _write_mp4(path, frames, durations_ms, fps, progress)
        return path.read_bytes()


def _write_mp4(
    path: Path,
    frames: Sequence[Frame],
    durations_ms: Sequence[int],
    fps: Fraction,
    progress: Progress | None,
) -> None:
    h, w = frames[0].shape[:2]
    ew, eh = w + (w % 2), h + (h % 2)
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = ew, eh, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"crf": "20", "preset": "veryfast"}
        t = 0
        for i, frame in enumerate(frames):
            if (ew, eh) != (w, h):
                frame = np.pad(frame, ((0, eh - h), (0, ew - w), (0, 0)), mode="edge")
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
            vf.pts, vf.time_base = t, Fraction(1, 1000)
            t += int(durations_ms[i])
            for packet in stream.encode(vf):
                out.mux(packet)
            if progress is not None:
                progress((i + 1) / len(frames))
        for packet in stream.encode():
            out.mux(packet)


def encode_webp(frames: Sequence[Frame], durations_ms: Sequence[int], loop: int) -> bytes:
    images = [Image.fromarray(np.ascontiguousarray(f[:, :, ::-1]), "RGB") for f in frames]
    buf = io.BytesIO()
    images[0].save(
        buf,
        "WEBP",
        save_all=True,
        append_images=images[1:],
        duration=[int(d) for d in durations_ms],
        loop=max(0, int(loop)) if loop != 1 else 1,
        quality=85,
        method=4,
        minimize_size=False,
        allow_mixed=False,
    )
    return buf.getvalue()
