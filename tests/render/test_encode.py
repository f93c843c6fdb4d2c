"""Output encoders (server.render.encode, server.render.gif), read back with Pillow/PyAV.

The GIF writer's promises: the frame count, every delay and the loop count survive
(identical consecutive frames included); template pixels come back bit-exact while a
template frame needs no more than 175 colours (255 minus the face palette), and
beyond that the rarest near-twin colours merge with a bounded error; face pixels use
one palette shared by all frames.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from server.gif_templates.media import read_animation
from server.render import gif
from server.render.encode import draft, encode, encode_gif, encode_mp4, encode_webp, quantise_gif
from server.types import Animation

H, W = 48, 64
DURATIONS = [40, 70, 100, 100, 30, 250]  # GIF stores centiseconds: multiples of 10


def decode_gif(data: bytes) -> tuple[list[np.ndarray], list[int], int | None]:
    """Composited BGR frames, delays (ms) and NETSCAPE loop count (None: no block)."""
    frames, durations = [], []
    with Image.open(io.BytesIO(data)) as im:
        loop = im.info.get("loop")
        for index in range(im.n_frames):
            im.seek(index)
            frames.append(np.asarray(im.convert("RGB"))[:, :, ::-1].copy())
            durations.append(int(im.info["duration"]))
    return frames, durations, loop


def template_clip(n_colours: int = 150, seed: int = 0) -> list[np.ndarray]:
    """Frames of ``n_colours`` random colours (so at most that many per frame) whose
    background scrolls, so every frame changes pixels outside the face; frames 2 and 3
    are identical."""
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (n_colours, 3), dtype=np.uint8)
    index = rng.integers(0, n_colours, (H, W))
    frames = [np.ascontiguousarray(palette[np.roll(index, 3 * i, axis=1)]) for i in range(6)]
    frames[3] = frames[2].copy()
    return frames


def face_patch(i: int, h: int = 18, w: int = 22) -> np.ndarray:
    """A smooth 'face' with a few hundred colours, shifting a little per frame."""
    yy, xx = np.mgrid[0:h, 0:w]
    b = 90 + 5 * xx + 2 * i
    g = 110 + 4 * yy
    r = 150 + 2 * (xx + yy) - i
    return np.stack([b, g, r], -1).clip(0, 255).astype(np.uint8)


def with_faces(templates: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for i, t in enumerate(templates):
        frame = t.copy()
        k = 2 if i == 3 else i  # frame 3 repeats frame 2 exactly
        top, left = 10 + k, 20 + 2 * k
        frame[top : top + 18, left : left + 22] = face_patch(k)
        out.append(frame)
    return out


@pytest.fixture(scope="module")
def clip() -> tuple[list[np.ndarray], list[np.ndarray]]:
    templates = template_clip()
    return templates, with_faces(templates)


def test_gif_keeps_frames_timing_and_template_pixels_exactly(
    clip: tuple[list[np.ndarray], list[np.ndarray]],
) -> None:
    templates, frames = clip
    data = encode_gif(frames, templates, DURATIONS, 0)
    decoded, durations, loop = decode_gif(data)
    assert len(decoded) == len(frames)  # frames 2 and 3 are identical and both stay
    assert durations == DURATIONS and loop == 0
    for out, frame, template in zip(decoded, frames, templates, strict=True):
        background = (frame == template).all(2)
        assert background.sum() > 0.8 * H * W
        np.testing.assert_array_equal(out[background], frame[background])
    np.testing.assert_array_equal(decoded[3], decoded[2])
    # our own reader agrees (it is what the quality check and the API tests use)
    anim = read_animation_bytes(data)
    assert len(anim.frames) == len(frames) and anim.durations_ms == DURATIONS and anim.loop == 0


def read_animation_bytes(data: bytes) -> Animation:
    """The clip as the template library's reader sees it (what tools.quality uses)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.gif"
        path.write_bytes(data)
        return read_animation(path)


def test_gif_face_pixels_share_one_palette(
    clip: tuple[list[np.ndarray], list[np.ndarray]],
) -> None:
    templates, frames = clip
    decoded, _, _ = decode_gif(encode_gif(frames, templates, DURATIONS, 0))
    masks = [(f != t).any(2) for f, t in zip(frames, templates, strict=True)]
    palette = gif.face_palette(
        frames, [gif.pack(f) != gif.pack(t) for f, t in zip(frames, templates, strict=True)]
    )
    assert 1 < len(palette) <= gif.FACE_COLOURS
    allowed = {tuple(c) for c in palette[:, ::-1].tolist()}  # RGB -> BGR
    seen = {tuple(c) for d, m in zip(decoded, masks, strict=True) for c in d[m].tolist()}
    assert seen <= allowed
    distinct_faces = {tuple(c) for f, m in zip(frames, masks, strict=True) for c in f[m].tolist()}
    assert len(distinct_faces) > 2 * gif.FACE_COLOURS  # the palette really had to reduce
    error = np.concatenate(
        [np.abs(d[m].astype(int) - f[m]) for d, f, m in zip(decoded, frames, masks, strict=True)]
    )
    assert error.max() <= 16 and error.mean() < 4  # a smooth face, 80 colours


@pytest.mark.parametrize(("loop", "expected"), [(0, 0), (3, 3), (1, None)])
def test_gif_loop_count(
    clip: tuple[list[np.ndarray], list[np.ndarray]], loop: int, expected: int | None
) -> None:
    templates, frames = clip
    data = encode_gif(frames, templates, DURATIONS, loop)
    assert decode_gif(data)[2] == expected
    assert (b"NETSCAPE2.0" in data) == (expected is not None)  # loop=1: no block, plays once
    assert read_animation_bytes(data).loop == loop


def test_gif_of_identical_frames_keeps_every_frame() -> None:
    frame = template_clip()[0]
    frames = [frame] * 4
    decoded, durations, _ = decode_gif(encode_gif(frames, frames, [50, 60, 70, 80], 0))
    assert durations == [50, 60, 70, 80]
    for out in decoded:
        np.testing.assert_array_equal(out, frame)


def test_gif_merges_colours_beyond_the_budget_with_bounded_error() -> None:
    # A background ramp of 300 near-twin colours, one rare but distinct highlight and a
    # face: 300 + 1 colours compete for the 255 - 80 palette slots left by the face.
    yy, xx = np.mgrid[0:H, 0:W]
    ramp = (yy * W + xx) % 300
    template = np.stack([ramp * 0.5 + 20, ramp * 0.8, 240 - ramp * 0.6], -1).astype(np.uint8)
    template[40:42, 2:4] = (255, 0, 255)
    colours = {tuple(c) for c in template.reshape(-1, 3).tolist()}
    assert len(colours) > 255 - gif.FACE_COLOURS
    frame = template.copy()
    frame[10:28, 30:52] = face_patch(0)
    decoded, _, _ = decode_gif(encode_gif([frame], [template], [100], 0))
    out = decoded[0]
    background = (frame == template).all(2)
    error = np.abs(out.astype(int) - frame)[background]
    assert error.max() <= 4 and error.mean() < 1.0  # merged into a neighbour on the ramp
    assert len({tuple(c) for c in out[background].tolist()}) <= 255 - gif.FACE_COLOURS
    np.testing.assert_array_equal(out[40:42, 2:4], template[40:42, 2:4])  # highlight kept


@pytest.mark.timeout(20)
def test_colour_merging_ends_on_equidistant_colours() -> None:
    """Colours at equal distances from each other (a lattice, equal counts) make
    nearest neighbours ties in any order; merging must still end within the budget,
    every colour shown as one that stays."""
    lattice = np.array(
        [(r, g, b) for r in range(0, 40, 4) for g in range(0, 40, 4) for b in range(0, 40, 4)],
        np.int32,
    )
    counts = np.full(len(lattice), 7, np.int64)
    for limit in (1, 17, 175, 999):
        parent = gif._merge_colours(lattice, counts, limit)
        kept = np.unique(parent)
        assert len(kept) == min(limit, len(lattice))
        np.testing.assert_array_equal(parent[kept], kept)  # the kept colours are roots


def test_gif_small_dark_features_keep_a_dark_colour() -> None:
    template = np.full((40, 40, 3), 200, np.uint8)
    template[:, :20] = (90, 120, 30)
    yy, xx = np.mgrid[0:20, 0:20]
    face = np.stack([100 + 4 * xx, 120 + 3 * yy, 150 + (xx + yy)], -1).astype(np.uint8)
    face[8:12, 8:14] = (12, 10, 14)  # pupils
    face[12:14, 8:14] = (70, 60, 65)  # lashes
    frame = template.copy()
    frame[10:30, 10:30] = face
    decoded, _, _ = decode_gif(encode_gif([frame, frame.copy()], [template] * 2, [100, 100], 0))
    face_px = (frame != template).any(2)
    for out in decoded:
        error = np.abs(out.astype(int) - frame)[face_px].max(1)
        assert error.max() <= 48, f"face pixels off by up to {error.max()} levels"


def test_nearest_palette_colour_for_near_black_pixels() -> None:
    palette = np.array([[60, 60, 60], [100, 50, 50], [230, 230, 230]], np.uint8)
    pixels = np.array([[2, 2, 2], [10, 10, 10], [58, 60, 61]], np.uint8)
    assert gif._nearest(pixels, palette).tolist() == [0, 0, 0]


# -- MP4 and WebP ---------------------------------------------------------------------------
def smooth_frames(n: int, h: int = 31, w: int = 41) -> list[np.ndarray]:
    """Odd-sized smooth frames (H.264 pads them to even sizes)."""
    yy, xx = np.mgrid[0:h, 0:w]
    return [
        np.stack([xx * 5 + 10 * i, yy * 6, 128 + 0 * xx + 5 * i], -1).clip(0, 255).astype(np.uint8)
        for i in range(n)
    ]


def test_mp4_keeps_frame_count_and_times() -> None:
    durations = [40, 70, 100, 33, 250, 50, 45]
    frames = smooth_frames(len(durations))
    frames[4] = frames[3].copy()  # an identical frame stays a frame
    data = encode_mp4(frames, durations)
    assert data[4:8] == b"ftyp"
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        decoded = [
            (float(f.pts * f.time_base), f.to_ndarray(format="bgr24"))
            for f in container.decode(stream)
        ]
    assert len(decoded) == len(frames)
    starts = np.array([t for t, _ in decoded]) - decoded[0][0]
    expected = np.cumsum([0, *durations[:-1]]) / 1000
    np.testing.assert_allclose(starts, expected, atol=0.001)
    for (_, image), frame in zip(decoded, frames, strict=True):
        assert image.shape == (32, 42, 3)  # padded to even
        assert np.abs(image[:31, :41].astype(int) - frame).mean() < 6  # crf 20, 4:2:0


def test_webp_keeps_count_durations_and_loop() -> None:
    durations = [40, 70, 100, 30, 250]
    frames = smooth_frames(len(durations))
    for loop in (0, 3):
        data = encode_webp(frames, durations, loop)
        with Image.open(io.BytesIO(data)) as im:
            assert im.n_frames == len(frames) and im.info.get("loop") == loop
            seen = []
            for index in range(im.n_frames):
                im.seek(index)
                im.load()
                seen.append(int(im.info["duration"]))
        assert seen == durations


def test_webp_keeps_identical_consecutive_frames() -> None:
    frames = smooth_frames(4)
    frames[2] = frames[1].copy()
    data = encode_webp(frames, [40, 70, 100, 30], 0)
    with Image.open(io.BytesIO(data)) as im:
        assert im.n_frames == 4


def test_encode_dispatches_on_format_and_refuses_others() -> None:
    frames = smooth_frames(2)
    assert encode("gif", frames, frames, [100, 100], 0)[:6] == b"GIF89a"
    assert encode("webp", frames, frames, [100, 100], 0)[8:12] == b"WEBP"
    assert encode("mp4", frames, frames, [100, 100], 0)[4:8] == b"ftyp"
    with pytest.raises(ValueError, match="unknown output format"):
        encode("avi", frames, frames, [100, 100], 0)  # type: ignore[arg-type]


def test_gif_of_photographic_frames_is_quick_and_close() -> None:
    """Frames that never were a GIF have tens of thousands of colours: the encoder must
    quantise them (median cut) instead of merging colours pairwise, which is quadratic."""
    import time

    from skimage import data

    photo = np.ascontiguousarray(data.astronaut()[:256, :256, ::-1])
    frames = [np.roll(photo, 3 * i, axis=1) for i in range(4)]
    started = time.perf_counter()
    blob = encode("gif", frames, frames, [100] * 4, 0)
    assert time.perf_counter() - started < 10
    path = Path(tempfile.mkdtemp()) / "photo.gif"
    path.write_bytes(blob)
    back = read_animation(path).frames
    assert len(back) == 4
    for a, b in zip(frames, back, strict=True):
        mse = float(((a.astype(float) - b) ** 2).mean())
        assert 10 * np.log10(255**2 / mse) > 30


def photographic_render() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Template frames with far more than MAX_EXACT_COLOURS colours (so their backgrounds
    are fitted, not kept exactly), a moving background and a changed 'face'."""
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut()[:128, :160, ::-1])
    templates = [np.roll(photo, 2 * i, axis=0) for i in range(4)]
    frames = [t.copy() for t in templates]
    for i, f in enumerate(frames):
        f[30 + i : 70 + i, 50:100] = np.clip(f[30 + i : 70 + i, 50:100].astype(int) + 9, 0, 255)
    return templates, frames


def test_gif_draft_shows_what_its_gif_decodes_to(
    clip: tuple[list[np.ndarray], list[np.ndarray]],
) -> None:
    for templates, frames in [clip, photographic_render()]:
        durations = DURATIONS[: len(frames)]
        draft = quantise_gif(frames, templates, (durations, 0))
        data = draft.data()
        assert data == encode_gif(frames, templates, durations, 0)
        decoded, _, _ = decode_gif(data)
        shown = draft.shown()
        assert len(shown) == len(decoded) == len(frames)
        for a, b in zip(shown, decoded, strict=True):
            assert a.dtype == np.uint8 and a.flags.c_contiguous
            np.testing.assert_array_equal(a, b)


def test_gif_draft_again_keeps_its_fitted_colours() -> None:
    templates, frames = photographic_render()
    first = quantise_gif(frames, templates, ([100] * 4, 0))
    assert all(d.fitted is not None for d in first.deltas)  # backgrounds were fitted
    step = np.zeros(frames[0].shape, np.uint8)
    step[::3] = 2  # a small change, the same on output and template frames
    changed = [cv2.add(f, step) for f in frames]
    under = [cv2.add(t, step) for t in templates]
    second = first.again(changed, under)
    assert second.faces is first.faces
    for a, b in zip(first.deltas, second.deltas, strict=True):
        assert b.fitted is a.fitted
        used = b.palette[np.unique(b.indices[b.indices != gif.TRANSPARENT])]
        allowed = {tuple(c) for c in np.concatenate([a.fitted, first.faces[0]]).tolist()}
        assert {tuple(c) for c in used.tolist()} <= allowed
    decoded, _, _ = decode_gif(second.data())
    for a, b in zip(second.shown(), decoded, strict=True):
        np.testing.assert_array_equal(a, b)
    refitted = quantise_gif(changed, under, ([100] * 4, 0))
    for mapped, fitted in zip(second.shown(), refitted.shown(), strict=True):
        # mapping to the old colours is about as close as fitting new ones
        assert np.abs(mapped.astype(int) - fitted).mean() < 4


def test_other_formats_are_encoded_at_once_and_again() -> None:
    frames = smooth_frames(2)
    done = draft("mp4", frames, frames, [100, 100], 0)
    assert done.shown() is None and done.data()[4:8] == b"ftyp"
    assert done.again(frames, frames).data()[4:8] == b"ftyp"


def test_pack_is_one_rgb_integer_per_pixel() -> None:
    rng = np.random.default_rng(4)
    frame = rng.integers(0, 256, (7, 9, 3)).astype(np.uint8)
    b, g, r = (frame[:, :, i].astype(np.uint32) for i in range(3))
    expected = (r << 16) | (g << 8) | b
    np.testing.assert_array_equal(gif.pack(frame), expected)
    np.testing.assert_array_equal(gif.pack(frame[:, ::-1]), expected[:, ::-1])  # a view
    assert gif.pack(frame).dtype == np.uint32


def test_pixels_returning_to_a_still_show_its_first_frame_colours() -> None:
    """A motion render: the same photographic still under every frame. Pixels that move
    and come back to it are shown as the first frame showed them (no flicker), and the
    frames stay close to what was rendered."""
    from skimage import data

    still = np.ascontiguousarray(data.astronaut()[:160, :200, ::-1])
    frames = [still.copy() for _ in range(4)]
    frames[1][20:90, 30:120] = np.roll(still[20:90, 30:120], 5, axis=1)  # a region moves
    frames[3][60:140, 90:190] = np.roll(still[60:140, 90:190], -4, axis=0)
    draft = quantise_gif(frames, [still] * 4, ([100] * 4, 0))
    assert draft.deltas[0].fitted is not None  # the still has too many colours to keep
    shown = draft.shown()
    for frame, seen in zip(frames, shown, strict=True):
        at_rest = (frame == still).all(2)
        np.testing.assert_array_equal(seen[at_rest], shown[0][at_rest])
        mse = float(((frame.astype(float) - seen) ** 2).mean())
        assert 10 * np.log10(255**2 / mse) > 30
    decoded, _, _ = decode_gif(draft.data())
    for a, b in zip(shown, decoded, strict=True):
        np.testing.assert_array_equal(a, b)
