"""Motion renders: a motion template's motion played on the identity's portrait, and
the one renderer the render service calls, which picks by the template's kind."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from server.engines.base import MotionEngine
from server.render.pipeline import (
    DEFAULT_THREADS,
    RenderCancelled,
    RenderOutput,
    Stamp,
    encode_output,
    render,
)
from server.types import MEDIA_TYPES, IdentityData, OutputFormat

Progress = Callable[[float], None]


class PortraitMissing(Exception):
    """The identity keeps no portrait (made before motion templates existed)."""

    code = "identity_needs_reupload"

    def __init__(self) -> None:
        super().__init__("this identity has no portrait to animate: upload its selfies again")
        self.message = str(self)


def render_motion(
    template: Any,
    identity: IdentityData,
    engine: MotionEngine,
    fmt: OutputFormat,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    threads: int = DEFAULT_THREADS,
    stamp: Stamp | None = None,
) -> RenderOutput:
    """``template.motion`` on ``identity``'s portrait: the motion's frame count, timing
    and loop, the portrait's size; ``stamp`` marks the output as made here. Progress
    0 -> 0.8 animating, -> 1 encoding."""
    if identity.portrait is None:
        raise PortraitMissing
    report = progress or (lambda _: None)
    motion = template.motion
    started = time.perf_counter()
    frames = engine.animate(
        identity.portrait, identity.portrait_landmarks, motion, lambda p: report(0.8 * p)
    )
    animated = time.perf_counter()
    if cancelled is not None and cancelled():
        raise RenderCancelled
    # The still portrait plays the template's part for the GIF encoder: what the motion
    # left as it was keeps its colours exactly, the moved pixels share one palette.
    still = [identity.portrait] * len(frames)
    timing = (list(motion.durations_ms), motion.loop)
    data = encode_output(fmt, frames, still, timing, report, threads, stamp)
    report(1.0)
    seconds = {"animate": animated - started, "encode": time.perf_counter() - animated}
    stats = {"frames": len(frames), "seconds": seconds, **engine.describe()}
    return RenderOutput(data, MEDIA_TYPES[fmt], len(frames), stats)


def render_by_kind(
    template: Any,
    faces: Mapping[int, IdentityData],
    engine: Any,
    fmt: OutputFormat,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    threads: int = DEFAULT_THREADS,
    stamp: Stamp | None = None,
) -> RenderOutput:
    """Swap templates go through :func:`~server.render.pipeline.render`, motion
    templates through :func:`render_motion` (with the identity of track 0)."""
    if getattr(template, "kind", "swap") == "motion":
        identity = faces[0]
        return render_motion(template, identity, engine, fmt, progress, cancelled, threads, stamp)
    return render(template, faces, engine, fmt, progress, cancelled, threads, stamp)
