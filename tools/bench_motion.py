"""Benchmark motion renders: the classic animator against the 1 s bar, and the neural
motion engine's own cost per frame apart from its model calls.

    python -m tools.bench --kind motion [--selfie PATH] [--runs 5] [--format gif]
    python -m tools.bench_motion [--motion motion-talk] [--lp-motion lp-talking] ...

- classic: a 3 s, 15 fps animation (45 frames) of a 512 px portrait, rendered as the
  service does (:func:`server.render.motion.render_motion`: animate, then encode), split
  into animate and encode, p50 and p95 over ``--runs`` and as a ratio of the 1 s bar.
  The motion is a library motion template resampled to 15 fps and played for 3 s; the
  portrait is the identity's (the selfie's head and shoulders), scaled so that its
  longer side is 512 px when it is smaller.
- neural: the same portrait and 45 frames of a LivePortrait motion template on the
  generated stand-in graphs of ``tools.synthetic_motion_models`` (production
  signatures, tiny weights), on one CPU thread. Per frame: ``own`` (driving keypoints,
  crop paste-back with its feathered mask) and ``model`` (stitcher and generator calls,
  which say nothing about the real networks' cost); per portrait: ``source_own`` (crop,
  paste mask) and ``source_model`` (feature and motion extractor calls).

Without ``--selfie`` the selfie is scikit-image's astronaut photo, so it runs on a fresh
machine. Ratios are what to compare across machines, not seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np

BAR_S = 1.0
FPS = 15
SECONDS = 3
PORTRAIT_SIDE = 512


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from server.faces.dlib_models import DlibFaceModels
    from server.faces.identity import build_identity
    from tools.bench import _selfie

    models = DlibFaceModels(cnn_fallback=False)
    identity = build_identity([_selfie(args.selfie)], models)
    if identity.portrait is None or identity.portrait_landmarks is None:
        sys.exit("error: no portrait for this selfie")
    portrait, landmarks = at_side(identity.portrait, identity.portrait_landmarks, PORTRAIT_SIDE)
    identity = replace(identity, portrait=portrait, portrait_landmarks=landmarks)
    library = args.dir or _templates_dir()
    motion = resampled(_library_motion(library, args.motion), FPS, FPS * SECONDS)
    classic = measure_classic(identity, motion, args.runs, args.format)
    neural = None
    if not args.no_neural:
        lp_motion = resampled(_library_motion(library, args.lp_motion), FPS, FPS * SECONDS)
        neural = measure_neural(portrait, landmarks, lp_motion)
    print(report(classic, neural, portrait.shape[:2], motion, args))
    return 0


def at_side(portrait: Any, landmarks: Any, side: int) -> tuple[Any, Any]:
    """The portrait scaled up so that its longer side is ``side`` (never down)."""
    h, w = portrait.shape[:2]
    k = side / max(h, w)
    if k <= 1.0:
        return portrait, landmarks
    size = (round(w * k), round(h * k))
    scaled = cv2.resize(portrait, size, interpolation=cv2.INTER_CUBIC)
    return scaled, (np.asarray(landmarks, np.float32) * np.float32(k))


def resampled(motion: Any, fps: int, count: int) -> Any:
    """``count`` frames of ``motion`` played at ``fps`` (looped, nearest frame in time)."""
    starts = np.concatenate([[0], np.cumsum(motion.durations_ms)[:-1]])
    total = float(sum(motion.durations_ms))
    times = (np.arange(count) * 1000.0 / fps) % total
    index = np.searchsorted(starts, times, side="right") - 1
    edges = np.round(np.arange(count + 1) * 1000.0 / fps).astype(int)
    fields = ("shape", "pose", "rotation", "translation", "scale", "expression", "eyes", "lip")
    arrays = {k: getattr(motion, k)[index] for k in fields if getattr(motion, k) is not None}
    return replace(motion, durations_ms=tuple(int(d) for d in np.diff(edges)), **arrays)


def measure_classic(identity: Any, motion: Any, runs: int, fmt: str) -> list[dict[str, float]]:
    """Per run: ``animate``, ``encode`` and ``total`` seconds of a service render."""
    from server.engines.motion_classic import ClassicMotionEngine
    from server.render.motion import render_motion

    engine = ClassicMotionEngine()
    template = SimpleNamespace(motion=motion)
    out = []
    for _ in range(max(1, runs)):
        t0 = time.perf_counter()
        result = render_motion(template, identity, engine, fmt)
        total = time.perf_counter() - t0
        out.append({**result.stats["seconds"], "total": total})
    return out


class _TimedNets:
    """LivePortrait's networks with the time spent in their calls added up."""

    def __init__(self, nets: Any) -> None:
        self.nets = nets
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.nets, name)
        if name not in ("features", "motion", "stitch", "generate"):
            return attr

        def timed(*args: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return attr(*args)
            finally:
                self.seconds += time.perf_counter() - t0

        return timed


def measure_neural(portrait: Any, landmarks: Any, motion: Any) -> dict[str, float]:
    """Milliseconds of the neural engine's own work and of its model calls (best of 2
    passes over the frames, one CPU thread)."""
    from server.engines.motion_neural_registry import (
        as_liveportrait,
        build_neural_motion,
        wanted_motion_models,
    )
    from server.runtime import ModelStore, SessionConfig, load_manifest
    from tools.synthetic_motion_models import write_synthetic_motion_models

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_synthetic_motion_models(root)
            store = ModelStore(
                load_manifest(root / "manifest.json"),
                root,
                "cpu",
                wanted_motion_models(),
                session_config=SessionConfig(intra_op_threads=1, inter_op_threads=1),
            )
            store.load()
            engine = build_neural_motion(store).engine
            if engine is None:
                raise RuntimeError("the neural motion engine did not build on stand-in graphs")
            timed = _TimedNets(engine.nets)
            engine.nets = timed  # type: ignore[assignment]
            return _neural_passes(engine, timed, portrait, landmarks, as_liveportrait(motion))
    finally:
        cv2.setNumThreads(threads)


def _neural_passes(
    engine: Any, timed: _TimedNets, portrait: Any, landmarks: Any, driving: Any
) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(2):
        timed.seconds = 0.0
        t0 = time.perf_counter()
        source = engine.source_state(portrait, landmarks)
        source_s, source_model = time.perf_counter() - t0, timed.seconds
        timed.seconds = 0.0
        t0 = time.perf_counter()
        for i in range(driving.frames):
            engine.frame(source, driving, i)
        frames_s, model_s = time.perf_counter() - t0, timed.seconds
        n = driving.frames
        run = {
            "own": (frames_s - model_s) / n * 1000,
            "model": model_s / n * 1000,
            "source_own": (source_s - source_model) * 1000,
            "source_model": source_model * 1000,
        }
        if not best or run["own"] < best["own"]:
            best = run
    return best


def report(
    classic: list[dict[str, float]],
    neural: dict[str, float] | None,
    size: tuple[int, int],
    motion: Any,
    args: argparse.Namespace,
) -> str:
    h, w = size
    n = motion.frame_count
    lines = [
        f"classic animator: {n} frames ({sum(motion.durations_ms) / 1000:.1f} s at {FPS} fps) "
        f"of a {w}x{h} portrait, motion {args.motion}, {args.format}, {len(classic)} runs",
        "",
        "| stage | p50 | p95 | per frame (p50) | p50 / 1 s bar |",
        "|---|---|---|---|---|",
    ]
    for key in ("animate", "encode", "total"):
        values = [r[key] for r in classic]
        p50, p95 = statistics.median(values), float(np.percentile(values, 95))
        lines.append(
            f"| {key} | {p50:.3f} s | {p95:.3f} s | {p50 / n * 1000:.1f} ms | {p50 / BAR_S:.2f} |"
        )
    total = statistics.median(r["total"] for r in classic)
    verdict = "met" if total <= BAR_S else "missed"
    lines += ["", f"classic render / 1 s bar: {total / BAR_S:.2f}x ({verdict})"]
    if neural is not None:
        lines += [
            "",
            f"neural motion engine, stand-in graphs, one CPU thread, motion {args.lp_motion}:",
            f"own work {neural['own']:.1f} ms/frame (model calls {neural['model']:.1f} ms/frame); "
            f"per portrait own {neural['source_own']:.1f} ms "
            f"(model calls {neural['source_model']:.1f} ms)",
        ]
    return "\n".join(lines)


def _templates_dir() -> Path:
    from server.settings import load_settings

    return load_settings().templates_dir


def _library_motion(library: Path, template_id: str) -> Any:
    from server.gif_templates.motion import MOTION_NAME, load_motion

    return load_motion(library / template_id / MOTION_NAME)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.bench_motion", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--selfie", type=Path, help="selfie image (default: scikit-image astronaut)")
    p.add_argument("--dir", type=Path, help="template library (default: settings)")
    p.add_argument("--motion", default="motion-talk", help="landmark motion template id")
    p.add_argument("--lp-motion", default="lp-talking", help="LivePortrait motion template id")
    p.add_argument("--format", default="gif", choices=["gif", "mp4", "webp"])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--no-neural", action="store_true", help="skip the neural engine's cost")
    return p


if __name__ == "__main__":
    raise SystemExit(main())
