"""Synthetic model directories for neural engine tests (no weights, no network).

``write_models`` wraps ``tools.synthetic_models`` and can swap in an inswapper whose
batch dim is symbolic (the production file may fix it at 1; the engine batches only
when it is not), rewriting the manifest entry so verification still passes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from server.runtime import Manifest, ModelStore, load_manifest
from server.runtime.manifest import dump_manifest
from tools.synthetic_models import OPSET, orthogonal, write_synthetic_models


def batched_inswapper(variant: str, seed: int = 0) -> onnx.ModelProto:
    """inswapper-like graph with a symbolic batch: ``target`` [N,3,128,128] + ``source``
    [N,512] -> ``output``; "identity" returns the target, "mixing" adds a per-sample
    colour shift linear in the source (clipped to 0..1). The emap is the last
    initializer, as in the production file."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(np.array([-1, 3, 1, 1], np.int64), "shape")]
    if variant == "identity":
        inits.append(numpy_helper.from_array(np.zeros((512, 3), np.float32), "w"))
    else:
        inits.append(
            numpy_helper.from_array(rng.standard_normal((512, 3)).astype(np.float32) * 0.2, "w")
        )
    inits += [
        numpy_helper.from_array(np.array(0, np.float32), "lo"),
        numpy_helper.from_array(np.array(1, np.float32), "hi"),
        numpy_helper.from_array(orthogonal(512, rng), "emap"),
    ]
    nodes = [
        helper.make_node("MatMul", ["source", "w"], ["mix"]),
        helper.make_node("Reshape", ["mix", "shape"], ["shift"]),
        helper.make_node("Add", ["target", "shift"], ["shifted"]),
        helper.make_node(
            "Clip" if variant != "identity" else "Identity",
            ["shifted", "lo", "hi"] if variant != "identity" else ["shifted"],
            ["output"],
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "batched_inswapper",
        [
            helper.make_tensor_value_info("target", TensorProto.FLOAT, ["N", 3, 128, 128]),
            helper.make_tensor_value_info("source", TensorProto.FLOAT, ["N", 512]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, 128, 128])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def write_models(root: Path, swapper: str = "mixing", batched: bool = False) -> Path:
    """Synthetic graphs + manifest in ``root``; returns ``root``."""
    write_synthetic_models(root, swapper="identity" if swapper == "identity" else "mixing")
    if batched:
        path = root / "inswapper_128.onnx"
        onnx.save(batched_inswapper(swapper), str(path))
        manifest = load_manifest(root / "manifest.json")
        data = path.read_bytes()
        dump_manifest(
            with_model(
                manifest,
                "inswapper_128",
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            ),
            root / "manifest.json",
        )
    return root


def with_model(manifest: Manifest, name: str, **update: Any) -> Manifest:
    models = tuple(m.model_copy(update=update) if m.name == name else m for m in manifest.models)
    return manifest.model_copy(update={"models": models})


def loaded_store(root: Path, providers: Any = "cpu", **kwargs: Any) -> ModelStore:
    store = ModelStore(load_manifest(root / "manifest.json"), root, providers, **kwargs)
    store.load()
    return store
