"""onnxruntime session creation, signature check and warm-up.

Sessions are created once per worker at start-up (after gunicorn forks) and shared by
every request: ``InferenceSession.run`` is thread-safe. The warm-up run feeds zeros
shaped from the manifest, so the first real request does not pay for lazy allocation
and kernel selection (large on CUDA, very large on TensorRT).

onnxruntime's own fallback is switched off (``enable_fallback=0``): by default it
prints "EP Error ... Falling back to CPU" and carries on, both when the session is
created and when a run fails on the GPU. Here a failure is an exception the caller
sees; the CPU retry of the "auto" preference is an explicit, reported decision of
``ModelStore``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import onnxruntime as ort

from server.runtime.manifest import ModelEntry, TensorSpec

GraphOptimisation = Literal["disabled", "basic", "extended", "all"]

# Warm-up size of a symbolic height/width: SCRFD's usual detection size, and a
# multiple of 32, the largest stride of the networks we load.
DEFAULT_SPATIAL = 640
_SPATIAL_AXES = {"NCHW": (2, 3), "NHWC": (1, 2)}

_OPT_LEVELS = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
_ORT_DTYPES = {
    "float32": "tensor(float)",
    "float16": "tensor(float16)",
    "float64": "tensor(double)",
    "int64": "tensor(int64)",
    "int32": "tensor(int32)",
    "uint8": "tensor(uint8)",
}


class TensorInfo(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def shape(self) -> Sequence[Any]: ...
    @property
    def type(self) -> str: ...


class SessionLike(Protocol):
    """The part of ``onnxruntime.InferenceSession`` the runtime uses (fakeable)."""

    def get_providers(self) -> list[str]: ...
    def get_inputs(self) -> Sequence[Any]: ...
    def get_outputs(self) -> Sequence[Any]: ...
    def run(self, output_names: Any, input_feed: Mapping[str, Any]) -> list[Any]: ...


@dataclass(frozen=True)
class SessionConfig:
    """SessionOptions knobs. ``*_threads=0`` lets onnxruntime decide.

    ``log_severity`` 3 (errors) hides onnxruntime's start-up warnings such as the
    unused-initializer notice the inswapper's emap triggers; 2 shows them.
    ``provider_options`` maps a provider name to its options (e.g. TensorRT
    ``trt_engine_cache_enable``); providers without an entry get none.
    """

    graph_optimisation: GraphOptimisation = "all"
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    log_severity: int = 3
    provider_options: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


SessionFactory = Callable[[Path, Sequence[str], SessionConfig], SessionLike]


def session_options(config: SessionConfig) -> ort.SessionOptions:
    """Build onnxruntime SessionOptions from a SessionConfig."""
    options = ort.SessionOptions()
    options.graph_optimization_level = _OPT_LEVELS[config.graph_optimisation]
    options.intra_op_num_threads = config.intra_op_threads
    options.inter_op_num_threads = config.inter_op_threads
    options.log_severity_level = config.log_severity
    return options


def create_session(
    path: Path, providers: Sequence[str], config: SessionConfig
) -> ort.InferenceSession:
    """Create one InferenceSession with the given providers (the default factory)."""
    provider_options = [dict(config.provider_options.get(p, {})) for p in providers]
    return ort.InferenceSession(
        str(path),
        sess_options=session_options(config),
        providers=list(providers),
        provider_options=provider_options,
        enable_fallback=0,
    )


def _dims_differ(declared: Sequence[int | str], actual: Sequence[Any]) -> bool:
    if len(declared) != len(actual):
        return True
    return any(
        isinstance(want, int) and isinstance(got, int) and want != got
        for want, got in zip(declared, actual, strict=True)
    )


def _compare(kind: str, specs: Sequence[TensorSpec], infos: Sequence[Any]) -> list[str]:
    problems = []
    names = [info.name for info in infos]
    if names != [spec.name for spec in specs]:
        problems.append(f"{kind} names {names} != manifest {[s.name for s in specs]}")
        return problems
    for spec, info in zip(specs, infos, strict=True):
        if _dims_differ(spec.shape, list(info.shape)):
            problems.append(f"{kind} {spec.name!r} shape {list(info.shape)} != {list(spec.shape)}")
        if getattr(info, "type", _ORT_DTYPES[spec.dtype]) != _ORT_DTYPES[spec.dtype]:
            problems.append(f"{kind} {spec.name!r} type {info.type} != {spec.dtype}")
    return problems


def signature_mismatch(session: SessionLike, entry: ModelEntry) -> str | None:
    """Describe how the session's inputs/outputs differ from the manifest, or None.

    Names and order must match; fixed dims must agree (a symbolic dim on either side
    matches anything); dtypes must agree.
    """
    problems = _compare("input", entry.inputs, session.get_inputs())
    problems += _compare("output", entry.outputs, session.get_outputs())
    return "; ".join(problems) or None


def warmup_shape(entry: ModelEntry, spec: TensorSpec) -> tuple[int, ...]:
    """Concrete shape for a warm-up input.

    The manifest's ``warmup_shape`` wins. Otherwise a symbolic dim becomes
    ``DEFAULT_SPATIAL`` when it is a height/width of a 4-D image tensor (layout from
    the model's normalisation, NCHW if not stated) and 1 anywhere else (batch, counts).
    """
    if spec.warmup_shape is not None:
        return spec.warmup_shape
    norm = entry.normalisation
    layout = norm.layout if norm is not None and norm.input == spec.name else "NCHW"
    spatial = _SPATIAL_AXES[layout] if len(spec.shape) == 4 else ()
    return tuple(
        dim if isinstance(dim, int) else DEFAULT_SPATIAL if axis in spatial else 1
        for axis, dim in enumerate(spec.shape)
    )


def zero_feed(entry: ModelEntry) -> dict[str, np.ndarray]:
    """Zero tensors for every declared input (see :func:`warmup_shape`)."""
    return {
        spec.name: np.zeros(warmup_shape(entry, spec), dtype=np.dtype(spec.dtype))
        for spec in entry.inputs
    }


def warm_up(session: SessionLike, entry: ModelEntry) -> float:
    """Run the model once on zeros; returns the time it took in milliseconds."""
    feed = zero_feed(entry)
    start = time.perf_counter()
    session.run(None, feed)
    return (time.perf_counter() - start) * 1000.0
