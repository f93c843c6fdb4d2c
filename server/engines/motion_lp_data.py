"""LivePortrait motion: the per-frame head and expression motion of a driving clip.

LivePortrait saves a driving clip's motion as a "motion template"; the product stores it
as plain npz (read with ``allow_pickle=False``):

| array      | shape      | meaning                                                    |
|------------|------------|------------------------------------------------------------|
| fps        | ()         | playback rate                                              |
| scale      | (N, 1)     | scale of the implicit keypoints                            |
| R          | (N, 3, 3)  | head rotation, LivePortrait's convention (row vectors:     |
|            |            | ``kp @ R``; R = (Rz Ry Rx)^T of pitch, yaw, roll)          |
| exp        | (N, 21, 3) | expression deformation of the 21 implicit keypoints        |
| t          | (N, 3)     | translation (only x, y are ever applied)                   |
| c_d_eyes   | (N, 2)     | eye openness of the driving frames (optional)              |
| c_d_lip    | (N, 1)     | lip openness of the driving frames (optional)              |

Only the motion relative to frame 0 drives a portrait, so the clip's person never
appears.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

NUM_KP = 21
MAX_FRAMES = 10_000
_FLOATS = (np.float16, np.float32, np.float64)
_REQUIRED = {"scale": (1,), "R": (3, 3), "exp": (NUM_KP, 3), "t": (3,)}
_OPTIONAL = {"c_d_eyes": (2,), "c_d_lip": (1,)}


class MotionFileError(ValueError):
    """A motion file is missing, unreadable or not LivePortrait motion; one line."""


@dataclass(frozen=True)
class LivePortraitMotion:
    """Per-frame motion, float32: scale (N,), R (N,3,3), exp (N,21,3), t (N,3)."""

    fps: float
    scale: NDArray[np.float32]
    R: NDArray[np.float32]
    exp: NDArray[np.float32]
    t: NDArray[np.float32]
    eyes: NDArray[np.float32] | None = None
    lip: NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        n = len(self.scale)
        if n < 1 or any(len(a) != n for a in (self.R, self.exp, self.t)):
            raise MotionFileError("motion arrays need the same number of frames, at least 1")
        if not (np.isfinite(self.fps) and 0 < self.fps <= 120):
            raise MotionFileError(f"fps must be in (0, 120], got {self.fps}")

    @property
    def frames(self) -> int:
        return len(self.scale)

    @property
    def duration_ms(self) -> list[int]:
        """Per-frame display time in milliseconds (rounded)."""
        return [round(1000.0 / self.fps)] * self.frames


def _array(data: np.lib.npyio.NpzFile, name: str, tail: tuple[int, ...]) -> NDArray[np.float32]:
    value = data[name]
    if value.dtype.type not in _FLOATS:
        raise MotionFileError(f"{name}: dtype {value.dtype} is not a float")
    if value.ndim != 1 + len(tail) or value.shape[1:] != tail:
        raise MotionFileError(
            f"{name}: shape {value.shape}, expected (N, {', '.join(map(str, tail))})"
        )
    if not np.all(np.isfinite(value)):
        raise MotionFileError(f"{name}: holds NaN or infinite values")
    return np.ascontiguousarray(value, np.float32)


def _fps(data: np.lib.npyio.NpzFile) -> float:
    if "fps" not in data.files:
        raise MotionFileError("fps is missing")
    value = data["fps"]
    if value.shape not in ((), (1,)) or value.dtype.kind not in "fiu":
        raise MotionFileError(f"fps must be one number, got shape {value.shape} {value.dtype}")
    return float(value.reshape(-1)[0])


def _rotations_ok(R: NDArray[np.float32]) -> bool:
    gram = np.einsum("nij,nkj->nik", R.astype(np.float64), R.astype(np.float64))
    return bool(np.allclose(gram, np.eye(3), atol=1e-2) and np.all(np.linalg.det(R) > 0))


def parse_motion(data: np.lib.npyio.NpzFile) -> LivePortraitMotion:
    """Validate an opened npz; MotionFileError naming the first problem."""
    missing = [k for k in _REQUIRED if k not in data.files]
    if missing:
        raise MotionFileError(f"not LivePortrait motion: missing {', '.join(missing)}")
    arrays = {k: _array(data, k, tail) for k, tail in _REQUIRED.items()}
    if len(arrays["scale"]) > MAX_FRAMES:
        raise MotionFileError(f"more than {MAX_FRAMES} frames")
    if np.any(arrays["scale"] <= 0):
        raise MotionFileError("scale must be positive")
    if not _rotations_ok(arrays["R"]):
        raise MotionFileError("R holds matrices that are not rotations")
    extra = {k: _array(data, k, tail) for k, tail in _OPTIONAL.items() if k in data.files}
    return LivePortraitMotion(
        fps=_fps(data),
        scale=arrays["scale"][:, 0],
        R=arrays["R"],
        exp=arrays["exp"],
        t=arrays["t"],
        eyes=extra.get("c_d_eyes"),
        lip=extra.get("c_d_lip"),
    )


def load_motion(source: Path | str | bytes) -> LivePortraitMotion:
    """Read LivePortrait motion from an npz path or its bytes (never unpickles)."""
    try:
        raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError as error:
        raise MotionFileError(f"cannot read motion file: {error.strerror or error}") from None
    try:
        with io.BytesIO(raw) as handle:
            data = np.load(handle, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise MotionFileError("not an npz archive (a single array)")
            with data:
                return parse_motion(data)
    except MotionFileError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        first = str(error).strip().splitlines()
        reason = first[0] if first else type(error).__name__
        raise MotionFileError(f"not a readable npz: {reason}") from None
