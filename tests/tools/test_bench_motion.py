"""tools.bench --kind motion / tools.bench_motion: what it promises to print, the
resampling of a motion to 3 s at 15 fps and the neural cost split (never timings)."""

from __future__ import annotations

import numpy as np
import pytest

from server.gif_templates.motion import load_motion
from server.settings import load_settings
from server.types import MotionData
from tools import bench, bench_motion


def _motion(name: str):  # type: ignore[no-untyped-def]
    return load_motion(load_settings().templates_dir / name / "motion.npz")


def test_a_motion_is_resampled_to_45_frames_of_3_s() -> None:
    talk = _motion("motion-talk")  # 48 frames of 66-67 ms
    out = bench_motion.resampled(talk, 15, 45)
    assert out.frame_count == 45 and sum(out.durations_ms) == 3000
    assert set(out.durations_ms) <= {66, 67}
    assert out.shape is not None and talk.shape is not None and out.shape.shape == (45, 68, 2)
    # 1 s of 10 frames at 100 ms: frame k at 15 fps shows the one playing at k / 15 s.
    pose = np.arange(10, dtype=np.float32)[:, None].repeat(4, 1)
    second = MotionData("landmarks", (100,) * 10, 0, shape=np.zeros((10, 68, 2)), pose=pose)
    short = bench_motion.resampled(second, 15, 45)
    assert short.pose is not None
    assert short.pose[:16, 0].tolist() == [0, 0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8, 8, 9, 0]


def test_the_portrait_is_scaled_up_to_512_never_down() -> None:
    image = np.zeros((300, 200, 3), np.uint8)
    points = np.full((68, 2), 100.0, np.float32)
    big, moved = bench_motion.at_side(image, points, 512)
    assert big.shape[:2] == (512, 341) and moved[0, 0] == pytest.approx(100 * 512 / 300)
    same, _ = bench_motion.at_side(np.zeros((600, 400, 3), np.uint8), points, 512)
    assert same.shape[:2] == (600, 400)


def test_bench_prints_animate_encode_and_the_ratio_to_the_bar(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_motion.main(["--runs", "1", "--no-neural"]) == 0
    out = capsys.readouterr().out
    assert "45 frames (3.0 s at 15 fps) of a 471x512 portrait" in out
    for row in ("| animate |", "| encode |", "| total |"):
        assert row in out
    ratio = float(out.split("classic render / 1 s bar:")[1].split("x")[0])
    total = float(out.split("| total |")[1].split(" s")[0])
    assert ratio == pytest.approx(total, abs=0.01)
    animate = float(out.split("| animate |")[1].split(" s")[0])
    encode = float(out.split("| encode |")[1].split(" s")[0])
    assert 0 < animate < total and 0 < encode < total


def test_tools_bench_hands_motion_to_bench_motion(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(bench_motion, "main", lambda argv: seen.append(argv) or 0)
    assert bench.main(["--kind", "motion", "--runs", "3", "--format", "mp4"]) == 0
    assert seen == [["--runs", "3", "--format", "mp4"]]


def test_the_neural_cost_is_split_into_own_work_and_model_calls() -> None:
    from tests.render.samples import astronaut

    portrait = astronaut()[:256, 128:384].copy()
    points = np.stack([np.linspace(80, 176, 68), np.linspace(90, 200, 68)], 1)
    lp = bench_motion.resampled(_motion("lp-talking"), 15, 3)
    cost = bench_motion.measure_neural(portrait, points, lp)
    assert set(cost) == {"own", "model", "source_own", "source_model"}
    assert all(v > 0 for v in cost.values())
