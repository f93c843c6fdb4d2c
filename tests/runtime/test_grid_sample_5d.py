"""5-D GridSample, the op of LivePortrait's warping network: onnxruntime's CPU provider
runs it (opset 20, where the spec allows N-D, and opset 16, which older PyTorch exports
used for 5-D anyway) and agrees with a plain trilinear reference."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest

from server.runtime import SessionConfig, create_session
from tools.synthetic_motion_models import build_grid_sample_5d

SHAPE = (1, 2, 3, 4, 5)  # N, C, D, H, W


def trilinear(volume: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """GridSample reference: linear, zeros padding, align_corners=0."""
    _, channels, depth, height, width = volume.shape
    x, y, z = (grid[0, ..., k] for k in range(3))
    fx, fy, fz = (((c + 1) * n - 1) / 2 for c, n in ((x, width), (y, height), (z, depth)))
    x0, y0, z0 = np.floor(fx), np.floor(fy), np.floor(fz)
    out = np.zeros((channels, *x.shape))
    for dx, dy, dz in itertools.product((0, 1), repeat=3):
        xi, yi, zi = x0 + dx, y0 + dy, z0 + dz
        weight = (1 - np.abs(fx - xi)) * (1 - np.abs(fy - yi)) * (1 - np.abs(fz - zi))
        inside = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height) & (zi >= 0) & (zi < depth)
        sizes = ((xi, width), (yi, height), (zi, depth))
        xs, ys, zs = (np.clip(v, 0, n - 1).astype(int) for v, n in sizes)
        out += volume[0][:, zs, ys, xs] * (weight * inside)
    return out[None].astype(np.float32)


def _session(tmp_path, opset: int = 20):
    path = tmp_path / "grid_sample_5d.onnx"
    onnx.save(build_grid_sample_5d(SHAPE, opset), str(path))
    return create_session(path, ["CPUExecutionProvider"], SessionConfig())


@pytest.mark.parametrize("opset", [20, 16])
def test_cpu_provider_runs_a_5d_grid_sample_like_the_reference(tmp_path, opset):
    session = _session(tmp_path, opset)
    assert session.get_providers() == ["CPUExecutionProvider"]
    rng = np.random.default_rng(0)
    volume = rng.standard_normal(SHAPE).astype(np.float32)
    grid = rng.uniform(-1.1, 1.1, (1, 3, 4, 5, 3)).astype(np.float32)  # some points outside
    (out,) = session.run(None, {"volume": volume, "grid": grid})
    assert out.shape == SHAPE
    np.testing.assert_allclose(out, trilinear(volume, grid), atol=1e-5)


def test_voxel_centres_reproduce_the_volume(tmp_path):
    session = _session(tmp_path)
    _, _, depth, height, width = SHAPE
    centres = [(2 * np.arange(n) + 1) / n - 1 for n in (width, height, depth)]
    zs, ys, xs = np.meshgrid(centres[2], centres[1], centres[0], indexing="ij")
    grid = np.stack([xs, ys, zs], axis=-1)[None].astype(np.float32)
    volume = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE)
    (out,) = session.run(None, {"volume": volume, "grid": grid})
    np.testing.assert_allclose(out, volume, atol=1e-4)
