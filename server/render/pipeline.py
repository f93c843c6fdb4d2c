"""The render pipeline: template frames in, refaced animation out.

No HTTP and no storage here: the caller hands in the template (from the catalog), the
identities by face track, an engine, and gets bytes back. Everything expensive that
does not depend on the user (tracks, smoothing, track repairs, repeated frames) was
computed offline; everything that depends only on the user was computed at upload.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from server.engines.base import SwapEngine, SwapResult
from server.gif_templates.analysis import TemplateAnalysis
from server.gif_templates.features import track_features
from server.gif_templates.landmarks5 import track_landmarks5
from server.render.encode import Draft, draft
from server.types import MEDIA_TYPES, Animation, Frame, IdentityData, OutputFormat

Progress = Callable[[float], None]
DEFAULT_THREADS = min(2, os.cpu_count() or 1)


class TemplateLike(Protocol):
    @property
    def analysis(self) -> TemplateAnalysis: ...

    def animation(self) -> Animation: ...


# (output frames, their template frames, report progress?) -> their encoding
Encoder = Callable[[Sequence[Frame], Sequence[Frame], bool], Draft]


class Stamp(Protocol):
    """Provenance marks for one render: it marks the frames (with their template
    frames, so the GIF encoder still tells swapped pixels apart), encodes them with
    ``encoder`` (a draft may be encoded again, changed) and labels the bytes."""

    def encode(
        self,
        frames: Sequence[Frame],
        templates: Sequence[Frame],
        fmt: OutputFormat,
        encoder: Encoder,
    ) -> bytes: ...


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
    threads: int = DEFAULT_THREADS,
    stamp: Stamp | None = None,
) -> RenderOutput:
    """Reface ``template``: ``faces`` maps template face track ids to identities;
    ``stamp`` marks the output as made here (see :mod:`server.render.provenance`).

    Progress goes 0 -> 0.1 (decode, preparation), -> 0.8 (swapping), -> 1 (encoding).
    Frames are swapped and encoded on ``threads`` threads (OpenCV and NumPy release
    the GIL for the heavy parts).
    """
    report = progress or (lambda _: None)
    stop = cancelled or (lambda: False)
    clock = _Clock()
    # The identities are prepared while the template decodes: neither needs the other.
    with ThreadPoolExecutor(max_workers=1) as pool:
        ready = pool.submit(prepare_identities, engine, faces)
        anim = template.animation()
        clock.lap("decode")
        prepared = ready.result()
    swapped = swap_frames(
        anim.frames, template.analysis, faces, engine, report, stop, clock, threads, prepared
    )
    if stop():
        raise RenderCancelled

    a = template.analysis
    timing = (a.durations_ms, a.loop)
    data = encode_output(fmt, swapped, anim.frames, timing, report, threads, stamp)
    clock.lap("encode")
    report(1.0)
    stats = {"frames": len(swapped), "seconds": clock.times, **engine.describe()}
    return RenderOutput(data, MEDIA_TYPES[fmt], len(swapped), stats)


def encode_output(
    fmt: OutputFormat,
    frames: Sequence[Frame],
    templates: Sequence[Frame],
    timing: tuple[Sequence[int], int],
    report: Progress,
    threads: int,
    stamp: Stamp | None,
) -> bytes:
    """Encode a render's frames (``timing``: durations in ms, loop), marked by ``stamp``
    when given; progress goes 0.8 -> 1 during the first encode (a stamp may encode
    again, silently)."""
    durations, loop = timing

    def encoder(out: Sequence[Frame], under: Sequence[Frame], reports: bool) -> Draft:
        step = (lambda p: report(0.8 + 0.2 * p)) if reports else None
        return draft(fmt, out, under, durations, loop, step, threads)

    if stamp is None:
        return encoder(frames, templates, True).data()
    return stamp.encode(frames, templates, fmt, encoder)


def swap_frames(
    frames: list[Frame],
    analysis: TemplateAnalysis,
    faces: Mapping[int, IdentityData],
    engine: SwapEngine,
    progress: Progress,
    cancelled: Callable[[], bool],
    clock: _Clock | None = None,
    threads: int = 1,
    prepared: dict[int, Any] | None = None,
) -> list[Frame]:
    """Every frame with the mapped faces swapped; frames without them pass unchanged.
    ``prepared``: :func:`prepare_identities` of ``faces``, when already done."""
    tracks = {t.track_id: t for t in analysis.tracks}
    unknown = sorted(set(faces) - set(tracks))
    if unknown:
        raise ValueError(f"template has no face track {unknown}")
    if prepared is None:
        prepared = prepare_identities(engine, faces)
    jobs = []
    for track_id, identity in faces.items():
        key = id(identity)
        track = tracks[track_id]
        plan = engine.plan_track(
            prepared[key],
            track.landmarks,
            frames,
            landmarks5=track_landmarks5(track),
            features=track_features(track),
        )
        jobs.append((track, prepared[key], plan))
    if clock is not None:
        clock.lap("prepare")
    progress(0.1)
    n = len(frames)
    repeats = analysis.repeats if analysis.repeats is not None else np.zeros(n, bool)
    out: list[Frame] = [f.copy() for f in frames]
    results: list[list[SwapResult]] = [[] for _ in frames]
    done = [0]
    lock = threading.Lock()

    def swap_one(i: int) -> None:
        if cancelled():
            raise RenderCancelled
        for track, face, plan in jobs:
            if track.present[i]:
                r = engine.swap(out[i], i, track.landmarks[i], face, plan)
                if r is not None:
                    results[i].append(r)
        with lock:
            done[0] += 1
            progress(0.1 + 0.7 * done[0] / n)

    fresh = [i for i in range(n) if i == 0 or not repeats[i]]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(swap_one, fresh))  # frames are independent; list() re-raises
    for i in range(1, n):
        if repeats[i]:
            # A held frame shows the very same face as the one before it.
            results[i] = results[i - 1]
            for r in results[i]:
                sl = (slice(r.box.top, r.box.bottom), slice(r.box.left, r.box.right))
                out[i][sl][r.mask] = out[i - 1][sl][r.mask]
    if clock is not None:
        clock.lap("swap")
    return out


def prepare_identities(engine: SwapEngine, faces: Mapping[int, IdentityData]) -> dict[int, Any]:
    """Each distinct identity of ``faces`` prepared once for ``engine``, by ``id()``."""
    prepared: dict[int, Any] = {}
    for identity in faces.values():
        if id(identity) not in prepared:
            prepared[id(identity)] = engine.prepare_identity(identity)
    return prepared


class _Clock:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = round(now - self._last, 4)
        self._last = now
