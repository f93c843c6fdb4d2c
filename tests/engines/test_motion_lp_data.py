"""The LivePortrait motion loader: real files from the shared motion set, bad files refused."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from server.engines.motion_lp_data import LivePortraitMotion, MotionFileError, load_motion
from server.engines.motion_lp_math import rotation_matrix

SHARED_MOTION = Path("/work/shared/motion")


def _arrays(frames: int = 4) -> dict[str, np.ndarray]:
    rotations = np.stack([rotation_matrix(0, 5 * i, 0) for i in range(frames)])
    return {
        "fps": np.array(25.0, np.float32),
        "scale": np.full((frames, 1), 1.2, np.float32),
        "R": rotations,
        "exp": np.zeros((frames, 21, 3), np.float32),
        "t": np.zeros((frames, 3), np.float32),
    }


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.mark.skipif(not SHARED_MOTION.is_dir(), reason="shared motion set not present")
def test_every_shared_motion_file_loads():
    files = sorted(SHARED_MOTION.glob("*.npz"))
    assert files
    for path in files:
        motion = load_motion(path)
        assert motion.frames >= 1 and motion.fps in (20.0, 25.0, 30.0), path.name
        assert motion.R.shape == (motion.frames, 3, 3) and motion.R.dtype == np.float32
        assert motion.exp.shape == (motion.frames, 21, 3)
        assert motion.scale.shape == (motion.frames,) and motion.t.shape == (motion.frames, 3)
        assert motion.duration_ms == [round(1000 / motion.fps)] * motion.frames


@pytest.mark.skipif(not (SHARED_MOTION / "d1.npz").is_file(), reason="d1.npz not present")
def test_optional_eye_and_lip_ratios_are_kept():
    motion = load_motion(SHARED_MOTION / "d1.npz")
    assert motion.eyes is not None and motion.eyes.shape == (16, 2)
    assert motion.lip is not None and motion.lip.shape == (16, 1)


def test_bytes_and_paths_load_alike(tmp_path):
    data = _npz(**_arrays())
    (tmp_path / "m.npz").write_bytes(data)
    a, b = load_motion(data), load_motion(tmp_path / "m.npz")
    np.testing.assert_array_equal(a.R, b.R)
    assert a.fps == b.fps == 25.0 and a.eyes is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"R": None}, "missing R"),
        ({"exp": np.zeros((4, 20, 3), np.float32)}, "exp: shape"),
        ({"t": np.zeros((3, 3), np.float32)}, "same number of frames"),
        ({"scale": np.full((4, 1), np.nan, np.float32)}, "NaN"),
        ({"scale": np.zeros((4, 1), np.float32)}, "positive"),
        ({"R": np.ones((4, 3, 3), np.float32)}, "not rotations"),
        ({"exp": np.zeros((4, 21, 3), np.int32)}, "not a float"),
        ({"fps": np.array([25.0, 30.0])}, "fps must be one number"),
        ({"fps": np.array(0.0)}, "fps must be in"),
        ({"fps": None}, "fps is missing"),
    ],
)
def test_bad_motion_is_refused(change, message):
    arrays = _arrays()
    for key, value in change.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    with pytest.raises(MotionFileError, match=message):
        load_motion(_npz(**arrays))


def test_pickled_arrays_are_never_loaded():
    arrays = _arrays()
    arrays["exp"] = np.array([{"a": 1}], dtype=object)
    with pytest.raises(MotionFileError, match="not a readable npz"):
        load_motion(_npz(**arrays))


def test_not_an_npz(tmp_path):
    with pytest.raises(MotionFileError, match="not a readable npz"):
        load_motion(b"GIF89a not numpy")
    buf = io.BytesIO()
    np.save(buf, np.zeros(3))
    with pytest.raises(MotionFileError, match="single array"):
        load_motion(buf.getvalue())
    with pytest.raises(MotionFileError, match="cannot read"):
        load_motion(tmp_path / "absent.npz")


def test_dataclass_checks_frame_counts():
    a = _arrays()
    with pytest.raises(MotionFileError):
        LivePortraitMotion(25.0, a["scale"][:2, 0], a["R"], a["exp"], a["t"])
