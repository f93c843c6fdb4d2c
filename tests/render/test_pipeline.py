"""The render pipeline's own promises, with a scripted engine (no face maths):
frames without a tracked face pass unchanged, repeated frames reuse the previous face,
progress only moves forward, cancellation stops it, and the output keeps the frames,
their durations and the loop."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from server.engines.base import SwapResult
from server.gif_templates.analysis import ANALYSIS_VERSION, FaceTrack, TemplateAnalysis
from server.render.pipeline import RenderCancelled, render, swap_frames
from server.types import Box, Frame, IdentityData, OutputFormat
from tests.conftest import synthetic_identity
from tests.render.samples import MemoryTemplate

H, W, N = 40, 56, 7
DURATIONS = [60, 100, 60, 100, 40, 120, 80]
PRESENT = [True, True, True, False, False, True, True]  # no face in frames 3 and 4
REPEATS = [False, False, True, False, False, False, True]  # 2 holds 1, 6 holds 5
FACE = 12  # side of the square the scripted engine paints


class PaintEngine:
    """Paints a square whose colour depends on the frame index at the face's centre,
    so a repeated frame that was swapped again would show a different colour."""

    name = "paint"

    def __init__(self) -> None:
        self.prepared: list[IdentityData] = []
        self.planned: list[tuple[int, ...]] = []
        self.swapped: list[tuple[int, int]] = []  # (frame index, track centre x)

    def prepare_identity(self, identity: IdentityData) -> dict[str, Any]:
        self.prepared.append(identity)
        return {"identity": identity}

    def plan_track(
        self,
        face: Any,
        landmarks: np.ndarray,
        frames: Sequence[Frame],
        landmarks5: np.ndarray | None = None,
        features: Any = None,
    ) -> str:
        assert len(landmarks) == len(frames)
        assert landmarks5 is not None and landmarks5.shape == (len(frames), 5, 2)
        self.planned.append(landmarks.shape)
        return "plan"

    def swap(
        self, frame: Frame, index: int, landmarks: np.ndarray, face: Any, plan: Any
    ) -> SwapResult:
        cx, cy = np.round(landmarks.mean(0)).astype(int)
        self.swapped.append((index, int(cx)))
        box = Box(cx - FACE // 2, cy - FACE // 2, cx + FACE // 2, cy + FACE // 2)
        mask = np.zeros((FACE, FACE), bool)
        mask[2:-2, 2:-2] = True
        region = frame[box.top : box.bottom, box.left : box.right]
        region[mask] = (30 * index % 256, 200, 60 + 20 * index)
        return SwapResult(box, mask)

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "version": 0}


def _track(track_id: int, cx: float, present: list[bool]) -> FaceTrack:
    landmarks = np.full((N, 68, 2), np.nan, np.float32)
    for i, here in enumerate(present):
        if here:
            landmarks[i] = (cx + i % 3, 18.0 + i % 2)
    flags = np.array(present)
    return FaceTrack(track_id, landmarks, flags.copy(), flags.copy())


def _frames() -> list[Frame]:
    """Few colours (bit-exact through the GIF encoder); every frame differs, frames that
    are repeats differ only by a faint change, as re-dithered held frames do."""
    rng = np.random.default_rng(7)
    palette = rng.integers(0, 256, (24, 3), dtype=np.uint8)
    index = rng.integers(0, 24, (H, W))
    frames = []
    for i in range(N):
        shift = i - 1 if REPEATS[i] else i
        frame = np.ascontiguousarray(palette[np.roll(index, 2 * shift, axis=1)])
        if REPEATS[i]:
            frame[0, 0] = palette[(index[0, 0] + 1) % 24]
        frames.append(frame)
    return frames


@pytest.fixture
def template() -> MemoryTemplate:
    tracks = [_track(0, 16.0, PRESENT), _track(1, 40.0, [True] * N)]
    analysis = TemplateAnalysis(
        ANALYSIS_VERSION, "", W, H, list(DURATIONS), 0, tracks, repeats=np.array(REPEATS)
    )
    return MemoryTemplate(analysis, _frames())


def _swap(
    template: MemoryTemplate, engine: PaintEngine, faces: dict[int, IdentityData]
) -> tuple[list[Frame], list[Frame]]:
    frames = template.animation().frames
    out = swap_frames(frames, template.analysis, faces, engine, lambda _: None, lambda: False)
    return frames, out


def test_frames_without_a_tracked_face_pass_unchanged(template: MemoryTemplate) -> None:
    engine = PaintEngine()
    frames, out = _swap(template, engine, {0: synthetic_identity()})
    assert len(out) == N
    for i in (3, 4):
        np.testing.assert_array_equal(out[i], frames[i])
    assert {i for i, _ in engine.swapped} == {0, 1, 5}  # not 3, 4 (absent) nor 2, 6 (held)
    assert not np.array_equal(out[0], frames[0])
    assert all(f is not o for f, o in zip(frames, out, strict=True))  # inputs not modified
    np.testing.assert_array_equal(frames[0], template.frames[0])


def test_repeated_frames_reuse_the_previous_face_exactly(template: MemoryTemplate) -> None:
    engine = PaintEngine()
    identity = synthetic_identity()
    frames, out = _swap(template, engine, {0: identity, 1: identity})
    for held in (2, 6):
        changed = (out[held - 1] != frames[held - 1]).any(2)
        assert changed.sum() == 2 * (FACE - 4) ** 2  # both faces of the frame before
        np.testing.assert_array_equal(out[held][changed], out[held - 1][changed])
        np.testing.assert_array_equal(out[held][~changed], frames[held][~changed])
    expected = [(i, 16 + i % 3) for i in (0, 1, 5)] + [(i, 40 + i % 3) for i in (0, 1, 3, 4, 5)]
    assert sorted(engine.swapped) == sorted(expected)  # each fresh frame once per face
    assert len(engine.prepared) == 1  # one identity on two tracks is prepared once
    assert engine.planned == [(N, 68, 2), (N, 68, 2)]


def test_gif_output_keeps_frames_durations_loop_and_faceless_frames(
    template: MemoryTemplate,
) -> None:
    result = render(template, {0: synthetic_identity()}, PaintEngine(), "gif")
    assert result.media_type == "image/gif" and result.frame_count == N
    assert result.stats["frames"] == N and result.stats["engine"] == "paint"
    assert set(result.stats["seconds"]) >= {"decode", "prepare", "swap", "encode"}
    with Image.open(io.BytesIO(result.data)) as im:
        assert im.n_frames == N and im.info.get("loop") == 0
        durations, decoded = [], []
        for i in range(N):
            im.seek(i)
            durations.append(int(im.info["duration"]))
            decoded.append(np.asarray(im.convert("RGB"))[:, :, ::-1])
    assert durations == DURATIONS
    for i in (3, 4):  # no face there: the template frame, bit for bit
        np.testing.assert_array_equal(decoded[i], template.frames[i])


@pytest.mark.parametrize(("fmt", "media_type"), [("mp4", "video/mp4"), ("webp", "image/webp")])
def test_video_outputs_keep_the_frame_count(
    template: MemoryTemplate, fmt: OutputFormat, media_type: str
) -> None:
    result = render(template, {0: synthetic_identity()}, PaintEngine(), fmt)
    assert result.media_type == media_type and result.frame_count == N
    if fmt == "mp4":
        with av.open(io.BytesIO(result.data)) as container:
            starts = [float(f.pts * f.time_base) for f in container.decode(video=0)]
        assert len(starts) == N
        np.testing.assert_allclose(
            np.array(starts) - starts[0], np.cumsum([0, *DURATIONS[:-1]]) / 1000, atol=0.001
        )
    else:
        with Image.open(io.BytesIO(result.data)) as im:
            assert im.n_frames == N


def test_progress_moves_forward_from_zero_to_one(template: MemoryTemplate) -> None:
    seen: list[float] = []
    render(template, {0: synthetic_identity()}, PaintEngine(), "gif", progress=seen.append)
    assert seen[-1] == 1.0 and 0.0 <= seen[0] <= 0.1
    assert seen == sorted(seen) and all(0.0 <= p <= 1.0 for p in seen)
    assert len(seen) >= N  # at least one step per frame


def test_cancellation_during_swapping_raises(template: MemoryTemplate) -> None:
    engine = PaintEngine()
    checks = iter(range(100))
    with pytest.raises(RenderCancelled):
        render(
            template,
            {0: synthetic_identity()},
            engine,
            "gif",
            cancelled=lambda: next(checks) >= 2,  # two frames go ahead, then stop
        )
    assert len({i for i, _ in engine.swapped}) == 2  # of the five fresh frames


def test_cancellation_after_swapping_stops_before_encoding(template: MemoryTemplate) -> None:
    engine = PaintEngine()
    seen: list[float] = []
    with pytest.raises(RenderCancelled):
        render(
            template,
            {0: synthetic_identity()},
            engine,
            "gif",
            progress=seen.append,
            cancelled=lambda: len(engine.swapped) == 3,  # true once frames 0, 1, 5 are done
        )
    assert sorted(i for i, _ in engine.swapped) == [0, 1, 5]
    assert max(seen) <= 0.8  # encoding (0.8 -> 1) never started


def test_unknown_track_is_refused(template: MemoryTemplate) -> None:
    engine = PaintEngine()
    with pytest.raises(ValueError, match=r"no face track \[5\]"):
        render(template, {0: synthetic_identity(), 5: synthetic_identity()}, engine, "gif")
    assert engine.swapped == []
