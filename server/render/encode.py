"""Encoders for rendered frames: GIF (delta against the template, see :mod:`.gif`),
MP4 (H.264 through PyAV) and animated WebP (Pillow). Each keeps the frame count and
every frame's duration; GIF and WebP keep the loop count (MP4 has none)."""

from __future__ import annotations

import io
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import numpy as np
from numpy.typing import NDArray
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
    threads: int = 1,
) -> bytes:
    """Encode output ``frames`` (BGR) made from ``templates`` (same length)."""
    if fmt == "gif":
        return encode_gif(frames, templates, durations_ms, loop, progress, threads)
    if fmt == "mp4":
        return encode_mp4(frames, durations_ms, progress)
    if fmt == "webp":
        return encode_webp(frames, durations_ms, loop)
    raise ValueError(f"unknown output format {fmt!r}")


class Draft(Protocol):
    """An encoding of a render's frames whose bytes may not be written yet."""

    def data(self) -> bytes: ...

    def shown(self) -> list[Frame] | None:
        """The frames as a viewer shows them, where known without decoding (GIF)."""
        ...

    def again(self, frames: Sequence[Frame], templates: Sequence[Frame]) -> Draft:
        """Changed frames of the same render, encoded with this draft's settings."""
        ...


@dataclass(frozen=True)
class Encoded:
    """Bytes written at once (MP4, WebP), and how to encode changed frames again."""

    encoded: bytes
    redo: Callable[[Sequence[Frame], Sequence[Frame]], bytes]

    def data(self) -> bytes:
        return self.encoded

    def shown(self) -> None:
        return None

    def again(self, frames: Sequence[Frame], templates: Sequence[Frame]) -> Encoded:
        return Encoded(self.redo(frames, templates), self.redo)


def draft(
    fmt: OutputFormat,
    frames: Sequence[Frame],
    templates: Sequence[Frame],
    durations_ms: Sequence[int],
    loop: int,
    progress: Progress | None = None,
    threads: int = 1,
) -> Draft:
    """As :func:`encode`, but a GIF stays a :class:`GifDraft` until its bytes are asked
    for."""
    if fmt == "gif":
        return quantise_gif(frames, templates, (durations_ms, loop), progress, threads)

    def redo(out: Sequence[Frame], under: Sequence[Frame]) -> bytes:
        return encode(fmt, out, under, durations_ms, loop, None, threads)

    return Encoded(encode(fmt, frames, templates, durations_ms, loop, progress, threads), redo)


def encode_gif(
    frames: Sequence[Frame],
    templates: Sequence[Frame],
    durations_ms: Sequence[int],
    loop: int,
    progress: Progress | None = None,
    threads: int = 1,
) -> bytes:
    return quantise_gif(frames, templates, (durations_ms, loop), progress, threads).data()


FacePalette = tuple[NDArray[np.uint8], NDArray[np.uint8]]  # RGB colours, their 5-6-5 LUT


@dataclass(frozen=True)
class GifDraft:
    """A GIF whose frames are quantised (deltas, palettes, indices) but not yet LZW
    coded: what a viewer will see is known without writing and decoding it."""

    deltas: list[gif.FrameDelta]
    size: tuple[int, int]
    timing: tuple[Sequence[int], int]  # durations (ms), loop
    faces: FacePalette
    threads: int

    def shown(self) -> list[Frame]:
        """The frames as a viewer shows them (equal to decoding :meth:`data`)."""
        return gif.composite(self.deltas, self.size)

    def again(self, frames: Sequence[Frame], templates: Sequence[Frame]) -> GifDraft:
        """Changed frames (of the same render) quantised with this draft's colours:
        its face palette and each frame's fitted background colours are not fitted
        again, only mapped to."""
        fitted = [d.fitted for d in self.deltas]
        return quantise_gif(frames, templates, self.timing, None, self.threads, self.faces, fitted)

    def data(self) -> bytes:
        """The GIF file."""
        durations, loop = self.timing
        with ThreadPoolExecutor(max_workers=max(1, self.threads)) as pool:
            blocks = list(pool.map(gif.frame_bytes, self.deltas, durations))
        return gif.write_gif(blocks, self.size, loop)


def quantise_gif(
    frames: Sequence[Frame],
    templates: Sequence[Frame],
    timing: tuple[Sequence[int], int],
    progress: Progress | None = None,
    threads: int = 1,
    faces: FacePalette | None = None,
    fitted: Sequence[NDArray[np.uint8] | None] | None = None,
) -> GifDraft:
    """Quantise output ``frames`` made from ``templates`` into GIF deltas (see
    :mod:`.gif`), fitting the shared face palette unless ``faces`` is given and each
    frame's background colours where needed unless ``fitted`` has them."""
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        packed = list(pool.map(gif.pack, frames))
        originals = list(pool.map(gif.pack, templates))
        if faces is None:
            changed = [p != o for p, o in zip(packed, originals, strict=True)]
            colours = gif.face_palette(frames, changed)
            faces = (colours, gif.palette_lut(colours))
        palette, lut = faces
        done = [0]
        lock = threading.Lock()

        backs = list(fitted) if fitted is not None else [None] * len(packed)

        def one(i: int) -> gif.FrameDelta:
            previous = packed[i - 1] if i else None
            delta = gif.encode_delta(packed[i], previous, originals[i], palette, lut, backs[i])
            with lock:
                done[0] += 1
                if progress is not None:
                    progress(done[0] / len(packed))
            return delta

        first = one(0)
        if fitted is None and first.fitted is not None:
            # A still under every frame (a motion render's portrait): what returns to it
            # takes the first frame's colours again, not newly fitted ones (which cost a
            # median cut a frame and would flicker).
            backs = [first.fitted if np.array_equal(o, originals[0]) else None for o in originals]
        deltas = [first, *pool.map(one, range(1, len(packed)))]
    h, w = frames[0].shape[:2]
    return GifDraft(deltas, (w, h), timing, faces, threads)


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


_WEBP_MIN_CHANGE = 8  # levels; libwebp merged frames 2 levels apart, kept them at 4


def _max_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int16) - b).max())


def encode_webp(frames: Sequence[Frame], durations_ms: Sequence[int], loop: int) -> bytes:
    """Animated WebP. libwebp's animation encoder merges a frame into the previous one
    (summing durations) when they differ by less than a small tolerance, which would
    change the frame count; such a frame gets its corner pixel moved by a few levels
    from the previous one, invisible but enough to stay a frame of its own."""
    rgb: list[np.ndarray] = []
    for f in frames:
        frame = np.ascontiguousarray(f[:, :, ::-1])
        if rgb and _max_diff(frame, rgb[-1]) < _WEBP_MIN_CHANGE:
            frame = frame.copy()
            shown = int(rgb[-1][0, 0, 2])
            frame[0, 0, 2] = shown + _WEBP_MIN_CHANGE if shown < 128 else shown - _WEBP_MIN_CHANGE
        rgb.append(frame)
    images = [Image.fromarray(f, "RGB") for f in rgb]
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
