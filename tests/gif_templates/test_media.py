"""Decoding, normalising and writing animations."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from server.gif_templates.library import prepare_source
from server.gif_templates.media import (
    UnsupportedMediaError,
    gif_delays,
    normalise,
    read_animation,
    write_gif,
)
from server.types import Animation
from tests.gif_templates.gifbuild import GifFrame, build_gif


def _palette(*colours: tuple[int, int, int]) -> np.ndarray:
    pal = np.zeros((256, 3), np.uint8)
    pal[: len(colours)] = colours
    return pal


def _rgb(frame: np.ndarray, y: int, x: int) -> tuple[int, ...]:
    return tuple(int(v) for v in frame[y, x, ::-1])


def test_gif_partial_frames_disposal_and_local_palettes(tmp_path: Path) -> None:
    red, blue, green, grey = (255, 0, 0), (0, 0, 255), (0, 255, 0), (90, 90, 90)
    base = GifFrame(np.zeros((24, 32), np.uint8), _palette(red), delay_cs=0)
    # 10x8 patch at (4, 6) on its own palette; index 2 is transparent (left 3 columns)
    patch = np.ones((8, 10), np.uint8)
    patch[:, :3] = 2
    keep = GifFrame(patch, _palette(red, blue, green), 4, 6, delay_cs=20, transparent=2)
    # drawn then restored to the previous canvas (disposal 3) before the next frame
    temp = GifFrame(np.zeros((4, 4), np.uint8), _palette(grey), 20, 2, delay_cs=7, disposal=3)
    last = GifFrame(np.zeros((2, 2), np.uint8), _palette(green), 0, 0, delay_cs=5)
    path = tmp_path / "partial.gif"
    path.write_bytes(build_gif(32, 24, [base, keep, temp, last], loop=3))

    anim = read_animation(path)

    assert anim.size == (32, 24) and len(anim.frames) == 4 and anim.loop == 3
    assert anim.durations_ms == [100, 200, 70, 50]  # 0 cs -> 100 ms like browsers
    f0, f1, f2, f3 = anim.frames
    assert _rgb(f0, 10, 12) == red
    assert _rgb(f1, 10, 12) == blue and _rgb(f1, 10, 5) == red  # transparent: red shows
    assert _rgb(f2, 3, 21) == grey and _rgb(f2, 10, 12) == blue
    assert _rgb(f3, 3, 21) == red  # the grey patch was disposed back to the canvas
    assert _rgb(f3, 1, 1) == green and _rgb(f3, 10, 12) == blue


def test_gif_without_netscape_block_plays_once(tmp_path: Path) -> None:
    frame = GifFrame(np.zeros((4, 4), np.uint8), _palette((1, 2, 3)), delay_cs=4)
    path = tmp_path / "once.gif"
    path.write_bytes(build_gif(4, 4, [frame, frame], loop=None))
    assert read_animation(path).loop == 1


def test_mp4_timing_from_the_time_base(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            img = np.full((48, 64, 3), (20 * i, 100, 200), np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)

    anim = read_animation(path)

    assert len(anim.frames) == 10 and anim.size == (64, 48) and anim.loop == 0
    assert sum(anim.durations_ms) == 833
    assert all(d in (83, 84) for d in anim.durations_ms)
    assert abs(int(anim.frames[9][20, 30, 2]) - 180) < 12  # red channel of frame 9 (BGR)


def test_animated_webp_round_trip(tmp_path: Path) -> None:
    colours = [(250, 0, 0), (0, 250, 0), (0, 0, 250)]
    images = [Image.new("RGB", (40, 30), c) for c in colours]
    path = tmp_path / "anim.webp"
    images[0].save(
        path,
        save_all=True,
        append_images=images[1:],
        duration=[80, 120, 100],
        loop=2,
        lossless=True,
    )
    anim = read_animation(path)
    assert anim.durations_ms == [80, 120, 100] and anim.loop == 2
    assert [_rgb(f, 5, 5) for f in anim.frames] == colours


def test_still_webp_and_unsupported_file(tmp_path: Path) -> None:
    still = tmp_path / "still.webp"
    Image.new("RGB", (20, 10), (10, 20, 30)).save(still, lossless=True)
    anim = read_animation(still)
    assert len(anim.frames) == 1 and anim.size == (20, 10)
    text = tmp_path / "notes.gif"
    text.write_text("not an image")
    with pytest.raises(UnsupportedMediaError):
        read_animation(text)


def _moving_square(n: int, size: tuple[int, int], durations: list[int]) -> Animation:
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(n):
        img = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 120)], -1)
        x = 5 + 3 * i
        img[10:30, x : x + 20] = (30, 200, 240)
        frames.append(np.ascontiguousarray(img.astype(np.uint8)))
    return Animation(frames, durations, 0)


def test_write_gif_round_trip_keeps_timing_loop_and_a_steady_background(tmp_path: Path) -> None:
    anim = _moving_square(12, (96, 64), [70, 60, 70, 80, 33, 33, 34, 100, 100, 50, 40, 200])
    anim = Animation(anim.frames, anim.durations_ms, loop=4)
    path = tmp_path / "out.gif"
    write_gif(anim, path)
    back = read_animation(path)

    assert len(back.frames) == 12 and back.loop == 4
    assert back.durations_ms == gif_delays(anim.durations_ms)
    assert abs(sum(back.durations_ms) - sum(anim.durations_ms)) <= 5
    errors = [
        np.mean((a.astype(float) - b) ** 2) for a, b in zip(anim.frames, back.frames, strict=True)
    ]
    assert 10 * np.log10(255**2 / np.mean(errors)) > 32  # a 6000-colour gradient, no dither
    # Pixels that never change in the source never change in the GIF (no palette flicker).
    static = np.all([np.array_equal(f[50:, :], anim.frames[0][50:, :]) for f in anim.frames])
    assert static
    assert all(np.array_equal(f[50:, :], back.frames[0][50:, :]) for f in back.frames)
    assert not list(tmp_path.glob("*.tmp"))


def test_normalise_limits_and_timing() -> None:
    big = _moving_square(3, (1000, 500), [100] * 3)
    small, changed = normalise(big, max_side=480)
    assert changed and small.size == (480, 240)

    long = _moving_square(150, (40, 30), [100] * 150)  # 15 s
    trimmed, changed = normalise(long, max_seconds=10.0)
    assert changed and sum(trimmed.durations_ms) == 10_000 and len(trimmed.frames) == 100

    fast = _moving_square(60, (40, 30), [16, 17, 17] * 20)  # 60 fps, 1 s
    slow, changed = normalise(fast, max_fps=30.0)
    assert changed and len(slow.frames) == 30
    assert sum(slow.durations_ms) == sum(fast.durations_ms)
    assert max(slow.durations_ms) <= 34 and min(slow.durations_ms) >= 33
    assert slow.frames[1] is fast.frames[2]

    fitting = _moving_square(30, (40, 30), [33, 34, 33] * 10)  # 30 fps is within limits
    same, changed = normalise(fitting)
    assert not changed and same is fitting


def test_a_fitting_gif_is_kept_byte_for_byte(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (60, 40), (i * 40, 80, 160)) for i in range(4)]
    src = tmp_path / "fits.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=80, loop=0)
    dest = tmp_path / "source.gif"
    assert prepare_source(src, dest) is True
    assert dest.read_bytes() == src.read_bytes()

    large = [Image.new("RGB", (640, 400), (i * 40, 80, 160)) for i in range(4)]
    big = tmp_path / "big.gif"
    large[0].save(big, save_all=True, append_images=large[1:], duration=80, loop=0)
    assert prepare_source(big, dest) is False
    assert read_animation(dest).size == (480, 300)


def test_write_gif_keeps_repeated_frames(tmp_path: Path) -> None:
    still = _moving_square(1, (40, 30), [100]).frames[0]
    anim = Animation([still] * 4 + [np.flipud(still)] * 2, [50, 60, 70, 80, 90, 100], 0)
    write_gif(anim, tmp_path / "still.gif")
    back = read_animation(tmp_path / "still.gif")
    assert back.durations_ms == [50, 60, 70, 80, 90, 100]
    assert all(np.array_equal(back.frames[0], f) for f in back.frames[1:4])
    assert all(np.array_equal(back.frames[4], f) for f in back.frames[5:])
    assert np.abs(back.frames[5].astype(int) - anim.frames[5]).mean() < 4
