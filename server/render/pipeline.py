"""The render pipeline: template frames in, refaced animation out.

No HTTP and no storage here: the caller hands in the template (from the catalog), the
identities by face track, an engine, and gets bytes back. Everything expensive that
does not depend on the user (tracks, smoothing, repeated frames) was computed offline;
everything that depends only on the user was computed at upload.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from server.engines.base import SwapEngine, SwapResult
from server.gif_templates.analysis import TemplateAnalysis
from server.render.encode import encode
from server.types import MEDIA_TYPES, Animation, Frame, IdentityData, OutputFormat

Progress = Callable[[float], None]


class TemplateLike(Protocol):
    @property
    def analysis(self) -> TemplateAnalysis: ...

    def animation(self) -> Animation: ...


class RenderCancelled(Exception):
    """The caller asked to stop (identity deleted, shutdown)."""


@dataclass
class RenderOutput:
    data: bytes
    media_type: str
    frame_count: int
    stats: dict[str, Any] = field(default_factory=dict)


def render(
    template: TemplateLike,
    faces: Mapping[int, IdentityData],
    engine: SwapEngine,
    fmt: OutputFormat,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> RenderOutput:
    """Reface ``template``: ``faces`` maps template face track ids to identities.

    Progress goes 0 -> 0.1 (decode, preparation), -> 0.8 (swapping), -> 1 (encoding).
    """
    report = progress or (lambda _: None)
    stop = cancelled or (lambda: False)
    clock = _Clock()
    anim = template.animation()
    clock.lap("decode")
    swapped = swap_frames(anim.frames, template.analysis, faces, engine, report, stop, clock)
    if stop():
        raise RenderCancelled
    data = encode(
        fmt,
        swapped,
        anim.frames,
        template.analysis.durations_ms,
        template.analysis.loop,
        lambda p: report(0.8 + 0.2 * p),
    )
    clock.lap("encode")
    report(1.0)
    stats = {"frames": len(swapped), "seconds": clock.times, **engine.describe()}
    return RenderOutput(data, MEDIA_TYPES[fmt], len(swapped), stats)


def swap_frames(
    frames: list[Frame],
    analysis: TemplateAnalysis,
    faces: Mapping[int, IdentityData],
    engine: SwapEngine,
    progress: Progress,
    cancelled: Callable[[], bool],
    clock: _Clock | None = None,
) -> list[Frame]:
    """Every frame with the mapped faces swapped; frames without them pass unchanged."""
    tracks = {t.track_id: t for t in analysis.tracks}
    unknown = sorted(set(faces) - set(tracks))
    if unknown:
        raise ValueError(f"template has no face track {unknown}")
    prepared: dict[int, Any] = {}
    jobs = []
    for track_id, identity in faces.items():
        key = id(identity)
        if key not in prepared:
            prepared[key] = engine.prepare_identity(identity)
        track = tracks[track_id]
        plan = engine.plan_track(prepared[key], track.landmarks, frames)
        jobs.append((track, prepared[key], plan))
    if clock is not None:
        clock.lap("prepare")
    progress(0.1)
    repeats = analysis.repeats if analysis.repeats is not None else np.zeros(len(frames), bool)
    out: list[Frame] = []
    previous: list[SwapResult] = []
    for i, frame in enumerate(frames):
        if cancelled():
            raise RenderCancelled
        result = frame.copy()
        if i > 0 and repeats[i]:
            # A held frame shows the very same face as the one before it.
            for r in previous:
                sl = (slice(r.box.top, r.box.bottom), slice(r.box.left, r.box.right))
                result[sl][r.mask] = out[-1][sl][r.mask]
        else:
            previous = []
            for track, face, plan in jobs:
                if track.present[i]:
                    r = engine.swap(result, i, track.landmarks[i], face, plan)
                    if r is not None:
                        previous.append(r)
        out.append(result)
        progress(0.1 + 0.7 * (i + 1) / len(frames))
    if clock is not None:
        clock.lap("swap")
    return out


class _Clock:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = round(now - self._last, 4)
        self._last = now
