"""Write tiny ONNX graphs with the production models' real signatures, plus a manifest.

    python -m tools.synthetic_models --dir DIR [--swapper identity|mixing] [--seed N]

Input/output names, shapes and dtypes come from ``onnx_models/manifest.json`` (the
production entries), so the whole model path - verification, sessions, warm-up,
insightface's classes - runs without weights. The graphs are deterministic (fixed
seeds, opset 17, float32) and small (about 1 MB in all):

- inswapper_128: ``target`` [1,3,128,128] + ``source`` [1,512] -> ``output``; the last
  initializer is a random orthogonal 512x512 "emap". ``identity`` returns the target
  exactly (source still feeds the graph, times zero); ``mixing`` adds a colour shift
  that is a fixed linear function of the source, clipped to 0..1.
- det_10g: SCRFD layout, 9 outputs for strides 8/16/32 with 2 anchors per cell. Scores
  are ~0 except at stride 32, where a cell whose 32x32 pixels are all white scores ~1;
  its box is 128x128 centred on that cell with ArcFace-template keypoints. So a white
  32x32 square on the 32-px grid of a black 640x640 image is one confident "face".
- w600k_r50: 16x16 average pooling -> flatten (147) -> fixed random 147x512 map.
- gfpgan_1.4: 3x3 depthwise blur (output stays in -1..1).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

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

OPSET = 17
SwapperVariant = Literal["identity", "mixing"]

_DTYPES = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16}
# Synthetic face at stride 32: box distances (left, top, right, bottom) in stride units
# from the anchor point (the cell's top-left corner) -> 128x128 box centred on the cell.
FACE_STRIDE = 32
FACE_BOX = np.array([1.5, 1.5, 2.5, 2.5], dtype=np.float32)
FACE_SCORE_GAIN = 20.0


def _info(spec: TensorSpec) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(spec.name, _DTYPES[spec.dtype], list(spec.shape))


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(value), name)


def _model(name: str, nodes: list, entry: ModelEntry, inits: list) -> onnx.ModelProto:
    inputs, outputs = [_info(s) for s in entry.inputs], [_info(s) for s in entry.outputs]
    # IR 8 goes with opset 17; every onnxruntime reads it
    return checked_model(name, nodes, inputs, outputs, inits, OPSET, 8)


def orthogonal(size: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal matrix (QR of a Gaussian one), float32."""
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    return (q * np.sign(np.diag(r))).astype(np.float32)


def build_inswapper(
    entry: ModelEntry, variant: SwapperVariant = "mixing", seed: int = 0
) -> onnx.ModelProto:
    """inswapper_128-like graph; its last initializer is the 512x512 emap."""
    rng = np.random.default_rng(seed)
    target, source = (s.name for s in entry.inputs)
    out = entry.outputs[0].name
    inits = [_const("shift_shape", np.array([1, -1, 1, 1], dtype=np.int64))]
    if variant == "identity":
        inits.append(_const("zero", np.zeros((1,), np.float32)))
        nodes = [
            helper.make_node("ReduceMean", [source], ["src_mean"], axes=[1], keepdims=1),
            helper.make_node("Mul", ["src_mean", "zero"], ["src_zero"]),
            helper.make_node("Reshape", ["src_zero", "shift_shape"], ["shift"]),
            helper.make_node("Add", [target, "shift"], [out]),
        ]
    else:
        weight = rng.standard_normal((512, 3)).astype(np.float32) * 0.2
        inits += [
            _const("mix_w", weight),
            _const("lo", np.array(0, np.float32)),
            _const("hi", np.array(1, np.float32)),
        ]
        nodes = [
            helper.make_node("MatMul", [source, "mix_w"], ["mix"]),
            helper.make_node("Reshape", ["mix", "shift_shape"], ["shift"]),
            helper.make_node("Add", [target, "shift"], ["shifted"]),
            helper.make_node("Clip", ["shifted", "lo", "hi"], [out]),
        ]
    inits.append(_const("emap", orthogonal(512, rng)))  # must stay the LAST initializer
    return _model(entry.name, nodes, entry, inits)


def _face_keypoints(template: np.ndarray) -> np.ndarray:
    """Template points (112 px crop) placed in the synthetic box, stride units, x/y pairs."""
    box_size = float(FACE_BOX[0] + FACE_BOX[2])
    centre = (FACE_BOX[2] - FACE_BOX[0]) / 2.0
    points = (template / 112.0 - 0.5) * box_size + centre
    return points.astype(np.float32).reshape(-1)


def _scrfd_head(src: str, stride: int, per_cell: int, kps: np.ndarray) -> tuple[list, list]:
    """Nodes and initializers for one stride: pool, three 1x1 convs, NHWC, flatten."""
    pool = f"pool{stride}"
    nodes = [
        helper.make_node(
            "AveragePool", [src], [pool], kernel_shape=[stride] * 2, strides=[stride] * 2
        )
    ]
    face = stride == FACE_STRIDE
    score_w = np.full((per_cell, 3, 1, 1), FACE_SCORE_GAIN / 3 if face else 0.0, np.float32)
    score_b = np.full((per_cell,), -FACE_SCORE_GAIN / 2 if face else -10.0, np.float32)
    heads = {
        "score": (score_w, score_b),
        "bbox": (np.zeros((4 * per_cell, 3, 1, 1), np.float32), np.tile(FACE_BOX, per_cell)),
        "kps": (np.zeros((10 * per_cell, 3, 1, 1), np.float32), np.tile(kps, per_cell)),
    }
    inits = [
        _const(f"flat{stride}_{k}", np.array([-1, w.shape[0] // per_cell], np.int64))
        for k, (w, _) in heads.items()
    ]
    for kind, (weight, bias) in heads.items():
        base = f"{kind}{stride}"
        inits += [_const(f"{base}_w", weight), _const(f"{base}_b", bias)]
        nodes.append(helper.make_node("Conv", [pool, f"{base}_w", f"{base}_b"], [f"{base}_c"]))
        last = f"{base}_c"
        if kind == "score":
            nodes.append(helper.make_node("Sigmoid", [last], [f"{base}_s"]))
            last = f"{base}_s"
        nodes.append(helper.make_node("Transpose", [last], [f"{base}_t"], perm=[0, 2, 3, 1]))
        nodes.append(helper.make_node("Reshape", [f"{base}_t", f"flat{stride}_{kind}"], [base]))
    return nodes, inits


def build_scrfd(entry: ModelEntry, template: np.ndarray) -> onnx.ModelProto:
    """det_10g-like SCRFD graph (see the module docstring for its one synthetic face)."""
    if entry.anchors is None:
        raise ValueError(f"{entry.name}: the manifest declares no anchor layout")
    strides, per_cell = entry.anchors.strides, entry.anchors.per_cell
    kps = _face_keypoints(template)
    nodes, inits = [], []
    for stride in strides:
        more_nodes, more_inits = _scrfd_head(entry.inputs[0].name, stride, per_cell, kps)
        nodes += more_nodes
        inits += more_inits
    produced = [f"{kind}{s}" for kind in ("score", "bbox", "kps") for s in strides]
    for name, spec in zip(produced, entry.outputs, strict=True):
        nodes.append(helper.make_node("Identity", [name], [spec.name]))
    return _model(entry.name, nodes, entry, inits)


def build_arcface(entry: ModelEntry, seed: int = 1) -> onnx.ModelProto:
    """w600k_r50-like recogniser: pooled 7x7 layout through a fixed linear map."""
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal((147, 512)) / np.sqrt(147)).astype(np.float32)
    # Node names avoid "Sub"/"Mul": insightface would then assume in-graph normalisation.
    nodes = [
        helper.make_node(
            "AveragePool",
            [entry.inputs[0].name],
            ["pooled"],
            name="pool",
            kernel_shape=[16, 16],
            strides=[16, 16],
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten", axis=1),
        helper.make_node("MatMul", ["flat", "fc_w"], [entry.outputs[0].name], name="fc"),
    ]
    return _model(entry.name, nodes, entry, [_const("fc_w", weight)])


def build_gfpgan(entry: ModelEntry) -> onnx.ModelProto:
    """gfpgan-like enhancer: a mild 3x3 depthwise blur."""
    kernel = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) / 16.0
    weight = np.broadcast_to(kernel, (3, 1, 3, 3)).astype(np.float32)
    node = helper.make_node(
        "Conv",
        [entry.inputs[0].name, "blur_w"],
        [entry.outputs[0].name],
        group=3,
        pads=[1, 1, 1, 1],
    )
    return _model(entry.name, [node], entry, [_const("blur_w", weight)])


def _builders(
    manifest: Manifest, swapper: SwapperVariant, seed: int
) -> dict[str, Callable[[ModelEntry], onnx.ModelProto]]:
    template = np.array(manifest.template("arcface_112").points, dtype=np.float32)
    return {
        "inswapper_128": lambda e: build_inswapper(e, swapper, seed),
        "det_10g": lambda e: build_scrfd(e, template),
        "w600k_r50": lambda e: build_arcface(e, seed + 1),
        "gfpgan_1.4": build_gfpgan,
    }


def write_synthetic_models(
    out_dir: Path | str,
    swapper: SwapperVariant = "mixing",
    source_manifest: Path | str = PRODUCTION_MANIFEST,
    seed: int = 0,
) -> Manifest:
    """Write the synthetic graphs and ``manifest.json`` into ``out_dir``; return it."""

    def note(entry: ModelEntry) -> str:
        variant = f" ({swapper})" if entry.role == "swapper" else ""
        return f"synthetic stand-in{variant}"

    return write_model_set(
        out_dir,
        source_manifest,
        lambda production: _builders(production, swapper, seed),
        note,
        f"Synthetic stand-ins for {source_manifest} (tools.synthetic_models).",
    )


def main(argv: list[str] | None = None) -> int:
    cli = parser("python -m tools.synthetic_models", __doc__)
    cli.add_argument("--swapper", choices=["identity", "mixing"], default="mixing")
    cli.add_argument(
        "--manifest",
        type=Path,
        default=PRODUCTION_MANIFEST,
        help="production manifest giving the signatures",
    )
    cli.add_argument("--seed", type=int, default=0)
    args = cli.parse_args(argv)
    manifest = write_synthetic_models(args.dir, args.swapper, args.manifest, args.seed)
    print_written(args.dir, manifest)
    print(f"{args.dir / 'manifest.json'}: {len(manifest.models)} models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
