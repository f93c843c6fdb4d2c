"""tools.bench_neural: the report's shape and bookkeeping (never its timings)."""

from __future__ import annotations

from pathlib import Path

from server.types import IdentityData
from tests.engines.conftest import Template
from tools.bench_neural import OWN_STAGES, measure_neural, scaled


def test_measure_neural_reports_every_stage_per_face(
    astro: Template, mixing_dir: Path, selfie_identity: IdentityData
) -> None:
    # mp4: the GIF encoder is built for GIF-sourced frames, these are photo crops
    result = measure_neural(
        astro, selfie_identity, width=None, repeat=1, models_dir=mixing_dir, fmt="mp4",
        keep_mouth=False,
    )  # fmt: skip
    ms = result["ms_per_face"]
    assert result["faces"] == len(astro.frames) == result["frames"]
    assert set(OWN_STAGES) <= set(ms) and "model" in ms
    assert abs(ms["own"] - sum(ms[s] for s in OWN_STAGES)) < 1e-2
    assert all(ms[s] > 0 for s in (*OWN_STAGES, "model"))
    assert result["within_target"] == (ms["own"] <= result["target_own_ms"])
    assert result["encode_ms_per_frame"] > 0
    assert result["engine"]["options"]["keep_mouth"] is False


def test_scaling_moves_landmarks_with_the_frames(astro: Template) -> None:
    frames, analysis = scaled(astro.frames, astro.analysis, 128)
    assert frames[0].shape[:2] == (128, 128) and analysis.width == 128
    k = 128 / astro.frames[0].shape[1]
    original, moved = astro.analysis.tracks[0], analysis.tracks[0]
    assert abs(float(moved.landmarks[0, 30, 0]) - k * float(original.landmarks[0, 30, 0])) < 1e-3
    assert moved.extras["landmarks5"].shape == original.extras["landmarks5"].shape
