"""Running a session with or without onnxruntime IO binding.

On CUDA/TensorRT, ``session.run`` copies every input to the device and every output
back, through temporary buffers onnxruntime allocates per call. IO binding lets the
outputs be allocated on the device by onnxruntime once per run and copied back in one
go, and keeps inputs in pinned staging buffers; for the inswapper (a 128x128 crop and
a 512 latent in, one crop out) it mostly removes per-call allocation and sync
overhead. On CPU there is nothing to gain, so :func:`runner_for` uses plain ``run``.

A new binding is made per call: bindings are not thread-safe, sessions are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from server.runtime.providers import CUDA, TENSORRT
from server.runtime.sessions import SessionLike

_DEVICE_OF = {CUDA: "cuda", TENSORRT: "cuda"}


class SessionRunner:
    """Runs one session; ``device`` None = plain ``run``, else IO binding on that device
    ("cuda", or "cpu", which exercises the same code path on any host)."""

    def __init__(self, session: SessionLike, device: str | None = None, device_id: int = 0) -> None:
        self.session = session
        self.device = device
        self.device_id = device_id
        self.output_names = [o.name for o in session.get_outputs()]

    @property
    def uses_binding(self) -> bool:
        return self.device is not None

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """All outputs, as numpy arrays on the host."""
        if self.device is None:
            return list(self.session.run(self.output_names, dict(feeds)))
        binding = self.session.io_binding()  # type: ignore[attr-defined]
        for name, value in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        for name in self.output_names:
            binding.bind_output(name, self.device, self.device_id)
        self.session.run_with_iobinding(binding)  # type: ignore[attr-defined]
        outputs: list[np.ndarray] = binding.copy_outputs_to_cpu()
        return outputs


def binding_device(providers: Sequence[str]) -> str | None:
    """The device IO binding should target for a session running on ``providers``
    (its active providers, first = where the graph mostly runs), or None for CPU."""
    return _DEVICE_OF.get(providers[0]) if providers else None


def runner_for(session: SessionLike, use_binding: bool = True) -> SessionRunner:
    """A runner for ``session``: IO binding when it runs on a GPU provider."""
    device = binding_device(list(session.get_providers())) if use_binding else None
    return SessionRunner(session, device)


def describe_runner(runner: SessionRunner) -> dict[str, Any]:
    return {"io_binding": runner.uses_binding, "device": runner.device or "cpu"}
