"""Tiny ONNX graphs with the LivePortrait networks' production signatures, plus a manifest.

    python -m tools.synthetic_motion_models --dir DIR

Names, shapes and dtypes come from ``onnx_models/manifest.json`` (group
``live_portrait``), so the whole model path - verification, sessions, warm-up, the
engine - runs without weights. Opset 20 (the first with N-D GridSample and AffineGrid),
float32, deterministic, a few hundred kB in all:

- feature extractor: 4x4 average pooling -> 1x1 convolution to 32 channels (the first
  three copy RGB) -> repeated over 16 depth slices: (1, 32, 16, 64, 64).
- motion extractor: fixed pose, scale, translation, expression and canonical keypoints
  (``MotionConstants``; the image feeds the graph times zero).
- stitcher: ``target + 0.1 (source - target)`` (a pull towards the source, as
  stitching does for the crop's edges).
- generator: the mean keypoint shift (x, y) of ``target - source`` becomes an affine
  grid (AffineGrid, 5-D) and moves the volume by that shift through a 5-D GridSample
  (linear, border); the depth mean of the first three channels, resized to 512, is
  the RGB output. So content moves with the keypoints: a shift of 0.1 in x moves the
  image 0.05 of its width to the right (normalised space spans -1..1).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from server.runtime.manifest import Manifest, ModelEntry, TensorSpec
from tools.synthetic_onnx import (
    PRODUCTION_MANIFEST,
    checked_model,
    parser,
    print_written,
    write_model_set,
)

OPSET = 20
IR_VERSION = 9  # the IR that goes with opset 20
GROUP = "live_portrait"
STITCH_PULL = 0.1


def _rng_points(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.4, 0.4, (1, 21, 3)).astype(np.float32)


@dataclass(frozen=True)
class MotionConstants:
    """What the synthetic motion extractor reports for any image."""

    pitch: float = 0.0
    yaw: float = 0.0
    roll: float = 0.0
    scale: float = 1.5
    translation: tuple[float, float, float] = (0.01, -0.02, 0.3)
    expression: np.ndarray = field(default_factory=lambda: 0.05 * _rng_points(1))
    points: np.ndarray = field(default_factory=lambda: _rng_points(0))


def _info(spec: TensorSpec) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(spec.name, TensorProto.FLOAT, list(spec.shape))


def _const(name: str, value: np.ndarray | list[float] | list[int]) -> onnx.TensorProto:
    array = np.asarray(value)
    array = array.astype(np.int64 if array.dtype.kind in "iu" else np.float32)
    return numpy_helper.from_array(np.ascontiguousarray(array), name)


def model(
    name: str, nodes: list, inputs: list, outputs: list, inits: list, opset: int = OPSET
) -> onnx.ModelProto:
    """A model of the given opset (20 by default), checked."""
    ir_version = IR_VERSION if opset >= 20 else 8
    return checked_model(name, nodes, inputs, outputs, inits, opset, ir_version)


def _entry_model(entry: ModelEntry, nodes: list, inits: list) -> onnx.ModelProto:
    ins = [_info(s) for s in entry.inputs]
    return model(entry.name, nodes, ins, [_info(s) for s in entry.outputs], inits)


def build_features(entry: ModelEntry, seed: int = 0) -> onnx.ModelProto:
    weight = np.random.default_rng(seed).uniform(-0.2, 0.2, (32, 3, 1, 1)).astype(np.float32)
    weight[:3] = np.eye(3, dtype=np.float32)[:, :, None, None]
    out = entry.outputs[0]
    nodes = [
        helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Conv", ["pooled", "mix_w"], ["mixed"]),
        helper.make_node("Unsqueeze", ["mixed", "depth_axis"], ["slab"]),
        helper.make_node("Expand", ["slab", "volume_shape"], [out.name]),
    ]
    inits = [
        _const("mix_w", weight),
        _const("depth_axis", [2]),
        _const("volume_shape", [int(d) for d in out.shape]),
    ]
    return _entry_model(entry, nodes, inits)


def build_motion(entry: ModelEntry, values: MotionConstants) -> onnx.ModelProto:
    consts = {
        "pitch": [[values.pitch]],
        "yaw": [[values.yaw]],
        "roll": [[values.roll]],
        "scale": [[values.scale]],
        "translation": [list(values.translation)],
        "expression": values.expression,
        "motion_points": values.points,
    }
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
    ]
    inits = [_const("zero", 0.0)]
    for spec, value in zip(entry.outputs, consts.values(), strict=True):
        nodes.append(helper.make_node("Add", ["nothing", f"{spec.name}_c"], [spec.name]))
        inits.append(_const(f"{spec.name}_c", np.asarray(value, np.float32).reshape(spec.shape)))
    return _entry_model(entry, nodes, inits)


def build_stitcher(entry: ModelEntry) -> onnx.ModelProto:
    source, target = (s.name for s in entry.inputs)
    nodes = [
        helper.make_node("Sub", [source, target], ["gap"]),
        helper.make_node("Mul", ["gap", "pull"], ["step"]),
        helper.make_node("Add", [target, "step"], [entry.outputs[0].name]),
    ]
    return _entry_model(entry, nodes, [_const("pull", STITCH_PULL)])


def warp_nodes(volume: str, theta: str, size: str, out: str) -> list:
    """AffineGrid (5-D) + GridSample (5-D) of ``volume`` by ``theta`` (1, 3, 4)."""
    return [
        helper.make_node("AffineGrid", [theta, size], ["grid"], align_corners=0),
        helper.make_node(
            "GridSample", [volume, "grid"], [out], mode="linear", padding_mode="border"
        ),
    ]


def build_generator(entry: ModelEntry) -> onnx.ModelProto:
    volume, source, target = (s.name for s in entry.inputs)
    size = [int(d) for d in entry.inputs[0].shape]
    nodes = [
        helper.make_node("Sub", [target, source], ["moved"]),
        helper.make_node("ReduceMean", ["moved", "kp_axis"], ["shift"], keepdims=0),
        helper.make_node("Mul", ["shift", "xy_back"], ["back"]),
        helper.make_node("Unsqueeze", ["back", "last_axis"], ["column"]),
        helper.make_node("Concat", ["eye", "column"], ["theta"], axis=2),
        *warp_nodes(volume, "theta", "size", "warped"),
        helper.make_node("ReduceMean", ["warped", "depth_axis"], ["flat"], keepdims=0),
        helper.make_node("Slice", ["flat", "c_start", "c_end", "c_axis"], ["rgb"]),
        helper.make_node("Resize", ["rgb", "", "up"], ["big"], mode="linear"),
        helper.make_node("Clip", ["big", "lo", "hi"], [entry.outputs[0].name]),
    ]
    inits = [
        _const("kp_axis", [1]),
        _const("xy_back", [-1.0, -1.0, 0.0]),
        _const("last_axis", [2]),
        _const("eye", np.eye(3, dtype=np.float32)[None]),
        _const("size", size),
        _const("depth_axis", [2]),
        _const("c_start", [0]),
        _const("c_end", [3]),
        _const("c_axis", [1]),
        _const("up", [1.0, 1.0, 8.0, 8.0]),
        _const("lo", 0.0),
        _const("hi", 1.0),
    ]
    return _entry_model(entry, nodes, inits)


def build_grid_sample_5d(
    shape: tuple[int, int, int, int, int], opset: int = OPSET
) -> onnx.ModelProto:
    """``volume`` (N, C, D, H, W) + ``grid`` (N, D, H, W, 3) -> GridSample, linear, zeros.
    Opset 16 (the one PyTorch exporters used for 5-D before the spec allowed it) names
    the mode ``bilinear``."""
    n, c, d, h, w = shape
    volume = helper.make_tensor_value_info("volume", TensorProto.FLOAT, list(shape))
    grid = helper.make_tensor_value_info("grid", TensorProto.FLOAT, [n, d, h, w, 3])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [n, c, d, h, w])
    mode = "linear" if opset >= 20 else "bilinear"
    node = helper.make_node("GridSample", ["volume", "grid"], ["out"], mode=mode)
    return model("grid_sample_5d", [node], [volume, grid], [out], [], opset)


def _builders(values: MotionConstants) -> dict[str, Callable[[ModelEntry], onnx.ModelProto]]:
    return {
        "live_portrait_feature_extractor": build_features,
        "live_portrait_motion_extractor": lambda e: build_motion(e, values),
        "live_portrait_generator": build_generator,
        "live_portrait_stitcher": build_stitcher,
    }


def write_synthetic_motion_models(
    out_dir: Path | str,
    values: MotionConstants | None = None,
    source_manifest: Path | str = PRODUCTION_MANIFEST,
) -> Manifest:
    """Write the four graphs and ``manifest.json`` into ``out_dir``; return it."""
    return write_model_set(
        out_dir,
        source_manifest,
        lambda _production: _builders(values or MotionConstants()),
        lambda _entry: "synthetic stand-in",
        f"Synthetic {GROUP} stand-ins for {source_manifest}.",
    )


def main(argv: list[str] | None = None) -> int:
    args = parser("python -m tools.synthetic_motion_models", __doc__).parse_args(argv)
    print_written(args.dir, write_synthetic_motion_models(args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
