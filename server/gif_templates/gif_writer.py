"""GIF writing tuned for templates and renders: per-frame palettes spent on what moved,
unchanged pixels left transparent (so static areas never flicker), no dithering.

Timing: GIF stores centiseconds, so the *cumulative* timeline is rounded to 10 ms,
which keeps the total duration exact instead of drifting frame by frame.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from server.storage.atomic import atomic_writer
from server.types import Animation, Frame

# The shortest delay written: browsers slow down anything faster than 20 ms.
MIN_WRITE_DELAY_MS = 20


def write_gif(anim: Animation, path: str | os.PathLike[str], tolerance: int = 3) -> None:
    """Write ``anim`` as a GIF atomically (temp file beside it, then os.replace).

    Each frame gets its own 255-colour palette built from the pixels that changed, and
    pixels that did not change are written as transparent so the viewer keeps what it
    already shows: static backgrounds stay bit-stable (no palette flicker) and the
    palette is spent where the motion is. No dithering, so no crawling noise.
    ``tolerance``: a pixel whose channels moved by at most this much since the previous
    frame counts as unchanged (larger: smaller files, slightly staler pixels; a kept
    pixel is refreshed anyway once it is 20 levels off).
    """
    images = list(_delta_frames(anim.frames, tolerance))
    delays = gif_delays(anim.durations_ms)
    with atomic_writer(Path(path)) as fh:
        images[0].save(
            fh,
            format="GIF",
            save_all=len(images) > 1,
            append_images=images[1:],
            duration=delays if len(images) > 1 else delays[0],
            loop=max(0, int(anim.loop)),
            disposal=1,
            optimize=False,
        )


def gif_delays(durations_ms: list[int]) -> list[int]:
    """Durations rounded to GIF's 10 ms ticks on the cumulative timeline (>= 20 ms)."""
    out, t_in, t_out = [], 0, 0
    for d in durations_ms:
        t_in += d
        delay = max(MIN_WRITE_DELAY_MS, int(round((t_in - t_out) / 10.0)) * 10)
        out.append(delay)
        t_out += delay
    return out


_TRANSPARENT = 255
_MAX_DRIFT = 20  # refresh a kept pixel once the shown colour is this far from the source


def _delta_frames(frames: list[Frame], tolerance: int) -> Iterator[Image.Image]:
    shown: np.ndarray | None = None
    previous: np.ndarray | None = None
    for index, frame in enumerate(frames):
        rgb = np.ascontiguousarray(frame[:, :, ::-1])
        if shown is None or previous is None:
            image, shown = _quantise_changed(rgb, np.ones(rgb.shape[:2], bool), None)
        else:
            step = np.abs(rgb.astype(np.int16) - previous).max(axis=2)
            drift = np.abs(rgb.astype(np.int16) - shown).max(axis=2)
            changed = (step > tolerance) | (drift > _MAX_DRIFT)
            # Never two identical frames in a row (Pillow would merge them): one pixel,
            # alternating between two places, is rewritten with the colour it shows.
            marker = (0, index % min(2, rgb.shape[1]))
            image, colours = _quantise_changed(rgb, changed, (marker, shown[marker]))
            changed[marker] = True
            shown = np.where(changed[:, :, None], colours, shown)
        previous = rgb.astype(np.int16)
        yield image


_Marker = tuple[tuple[int, int], np.ndarray]
_MARKER_INDEX = 254


def _quantise_changed(
    rgb: np.ndarray, changed: np.ndarray, marker: _Marker | None
) -> tuple[Image.Image, np.ndarray]:
    """Palette image of the changed pixels (others transparent) and the colours shown."""
    n_colours = _MARKER_INDEX
    palette = np.zeros((256, 3), np.uint8)
    if changed.any():
        pixels = rgb[changed].reshape(1, -1, 3)
        sample = Image.fromarray(pixels, "RGB").quantize(n_colours, Image.Quantize.MEDIANCUT)
        used = np.asarray(sample.getpalette() or [], np.uint8).reshape(-1, 3)[:n_colours]
        palette[: len(used)] = used
    if marker is not None:
        palette[_MARKER_INDEX] = marker[1]
    palette[_TRANSPARENT] = palette[0]  # a twin, so a match on it can be moved to entry 0
    pal_image = Image.new("P", (1, 1))
    pal_image.putpalette(palette.tobytes())
    indices = np.asarray(
        Image.fromarray(rgb, "RGB").quantize(palette=pal_image, dither=Image.Dither.NONE)
    ).copy()
    indices[indices == _TRANSPARENT] = 0
    indices[~changed] = _TRANSPARENT
    if marker is not None and not changed[marker[0]]:
        indices[marker[0]] = _MARKER_INDEX
    image = Image.fromarray(indices, "P")
    image.putpalette(palette.tobytes())
    image.info["transparency"] = _TRANSPARENT
    return image, palette[indices]
