"""A motion template's motion on disk: ``motion.npz`` (plain arrays plus a JSON meta
string, loaded with ``allow_pickle=False``) read by renders; writing is for authoring.

See :class:`server.types.MotionData` for the arrays and their conventions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from server.storage.atomic import atomic_writer
from server.types import MOTION_FORMATS, MotionData

MOTION_NAME = "motion.npz"
MOTION_VERSION = 1
_ARRAYS = (
    "shape",
    "pose",
    "rotation",
    "translation",
    "scale",
    "expression",
    "eyes",
    "lip",
    "gaze",
    "seen_shut",
)
_REQUIRED = {
    "landmarks": {"shape": (68, 2), "pose": (4,)},
    "liveportrait": {"rotation": (3, 3), "translation": (3,), "scale": (), "expression": (21, 3)},
}


class MotionError(ValueError):
    """A stored motion is missing, unreadable or malformed."""


def save_motion(motion: MotionData, path: str | os.PathLike[str]) -> None:
    """Write ``motion`` atomically (tmp file + os.replace)."""
    check_motion(motion)
    meta = {"version": MOTION_VERSION, "format": motion.format, "loop": int(motion.loop)}
    arrays: dict[str, Any] = {
        "meta": np.array(json.dumps(meta)),
        "durations_ms": np.asarray(motion.durations_ms, np.int32),
    }
    for name in _ARRAYS:
        value = getattr(motion, name)
        if value is not None:
            arrays[name] = np.asarray(value, np.float32)
    with atomic_writer(Path(path)) as fh:
        np.savez_compressed(fh, **arrays)


def load_motion(path: str | os.PathLike[str]) -> MotionData:
    """Read a ``motion.npz``; MotionError when it is absent or not a valid motion."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            found = {k: np.asarray(data[k], np.float32) for k in _ARRAYS if k in data.files}
            durations = tuple(int(d) for d in data["durations_ms"])
    except (OSError, KeyError, ValueError) as exc:
        raise MotionError(f"{Path(path).name}: {exc}") from exc
    if meta.get("version") != MOTION_VERSION or meta.get("format") not in MOTION_FORMATS:
        raise MotionError(f"{Path(path).name}: unknown version or format {meta!r}")
    motion = MotionData(meta["format"], durations, int(meta.get("loop", 0)), **found)
    check_motion(motion)
    return motion


def check_motion(motion: MotionData) -> None:
    """MotionError unless the arrays its format needs are there with matching shapes."""
    n = motion.frame_count
    if n < 1 or min(motion.durations_ms) <= 0:
        raise MotionError("a motion needs at least one frame, each with a positive duration")
    for name, tail in _REQUIRED[motion.format].items():
        value = getattr(motion, name)
        if value is None or value.shape != (n, *tail):
            got = None if value is None else value.shape
            raise MotionError(f"{motion.format} motion: {name} must be {(n, *tail)}, got {got}")
        if not np.isfinite(value).all():
            raise MotionError(f"{motion.format} motion: {name} has non-finite values")
    for name in ("gaze", "seen_shut"):
        extra = getattr(motion, name)
        if extra is not None and (extra.shape != (n, 2) or not np.isfinite(extra).all()):
            raise MotionError(f"{name} must be {(n, 2)} and finite, got {extra.shape}")


def describe_motion(motion: MotionData) -> dict[str, Any]:
    """What the API says about a motion: format, frames, timing, loop, ranges of motion."""
    out: dict[str, Any] = {
        "format": motion.format,
        "frame_count": motion.frame_count,
        "duration_ms": int(sum(motion.durations_ms)),
        "durations_ms": list(motion.durations_ms),
        "loop": motion.loop,
        "gaze": motion.gaze is not None,
    }
    if motion.pose is not None:
        pose = motion.pose.astype(np.float64)
        out["max_roll_deg"] = round(float(np.degrees(np.abs(pose[:, 3]).max())), 2)
        out["max_shift_iod"] = round(float(np.hypot(pose[:, 0], pose[:, 1]).max()), 3)
    if motion.shape is not None:
        gap = np.linalg.norm(motion.shape[:, [66, 65, 67]] - motion.shape[:, [62, 63, 61]], axis=2)
        out["max_mouth_opening_iod"] = round(float(gap.mean(1).max()), 3)
    return out


# Points that move with the head and hardly with expression: nose and eye corners.
ANCHORS = np.array([27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45])


def as_complex(points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, np.float64)
    return np.asarray(pts[..., 0] + 1j * pts[..., 1])


def as_points(z: np.ndarray) -> np.ndarray:
    return np.stack([z.real, z.imag], axis=-1)


def face_frame(landmarks: np.ndarray) -> tuple[complex, complex]:
    """(origin, axis) of a face's own frame as complex numbers: origin the centroid of
    the anchors, axis the eye line (image-left to image-right eye), its length the IOD.
    A point z in pixels is (z - origin) / axis in face units."""
    z = as_complex(landmarks)
    axis = z[42:48].mean() - z[36:42].mean()
    return complex(z[ANCHORS].mean()), complex(axis)
