"""Execution provider choice: the one place that decides CPU vs CUDA vs TensorRT.

The operator's preference is ``"auto"``, ``"cpu"``, ``"cuda"``, ``"tensorrt"`` or an
explicit list of onnxruntime provider names. An explicit request that onnxruntime
cannot honour is an error (``ProviderError``), never a quiet CPU run. After a session
exists, :func:`check_session_providers` compares what the session really activated
with the plan, because onnxruntime falls back to CPU silently when e.g. cuDNN is
missing - the most common complaint about GPU face-swap tools.

Two inputs are injectable so tests can fake any host: the provider list onnxruntime
reports (``available``) and whether a GPU is present (``gpu``). onnxruntime-gpu lists
CUDA/TensorRT whether or not the machine has a GPU, so the list alone cannot tell;
:func:`detect_gpu` asks onnxruntime's device enumeration and answers True (a GPU is
enumerated) or None (cannot tell: trust the provider list; "auto" then retries on CPU
if the GPU session cannot start, see ``ModelStore``). ``False`` (given by a caller who
knows) makes "auto" CPU-only and an explicit GPU request an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"

NamedPreference = Literal["auto", "cpu", "cuda", "tensorrt"]
ProviderPreference = NamedPreference | Sequence[str]
GpuPresence = bool | None | Callable[[], bool | None]
GPU_PROVIDERS = frozenset({TENSORRT, CUDA})

# "auto" order: fastest first. onnxruntime always keeps CPU for nodes others lack.
AUTO_ORDER: tuple[str, ...] = (TENSORRT, CUDA, CPU)
_NAMED: dict[str, tuple[str, ...]] = {
    "cpu": (CPU,),
    "cuda": (CUDA, CPU),
    "tensorrt": (TENSORRT, CUDA, CPU),
}


class ProviderError(RuntimeError):
    """A requested execution provider is not available or was not activated."""


class ProviderFallbackError(ProviderError):
    """The session was created but silently fell back from the required provider."""


class HasProviders(Protocol):
    def get_providers(self) -> list[str]: ...


@dataclass(frozen=True)
class ProviderPlan:
    """The ordered providers to request, and which one the session must activate.

    ``required`` is None for ``"auto"``: there a fallback is reported as a warning,
    not an error, since the operator did not ask for a particular device.
    """

    providers: tuple[str, ...]
    required: str | None
    preference: str
    note: str | None = None


def available_providers() -> list[str]:
    """What the installed onnxruntime build offers (import kept local: no work at import)."""
    import onnxruntime

    return list(onnxruntime.get_available_providers())


def detect_gpu() -> bool | None:
    """True when onnxruntime enumerates a GPU device, None when it cannot tell.

    Never False: builds whose CUDA provider is compiled in (not a plugin) may list no
    device even on a GPU host, so absence proves nothing.
    """
    import onnxruntime

    enumerate_devices = getattr(onnxruntime, "get_ep_devices", None)
    gpu_type = getattr(getattr(onnxruntime, "OrtHardwareDeviceType", None), "GPU", None)
    if enumerate_devices is None or gpu_type is None:
        return None
    try:
        devices = enumerate_devices()
    except Exception:  # device enumeration is best effort; any failure means "unknown"
        return None
    return True if any(d.device.type == gpu_type for d in devices) else None


def validate_preference(preference: ProviderPreference) -> None:
    """Reject a preference that can never work (typo in settings) before any loading."""
    if isinstance(preference, str):
        if preference.strip().lower() not in ("auto", *_NAMED):
            raise ValueError(
                f"unknown provider preference {preference!r}: use auto, cpu, cuda, tensorrt "
                "or a list of onnxruntime provider names"
            )
    elif not [p for p in preference if p.strip()]:
        raise ValueError("an explicit provider list must name at least one provider")


def choose_providers(
    preference: ProviderPreference = "auto",
    available: Sequence[str] | Callable[[], Sequence[str]] | None = None,
    gpu: GpuPresence = detect_gpu,
) -> ProviderPlan:
    """Ordered provider list for ``preference`` given what onnxruntime reports.

    ``available`` defaults to ``onnxruntime.get_available_providers()``; ``gpu`` to
    :func:`detect_gpu` (True / False / None = unknown); tests pass values. Raises
    ``ProviderError`` when an explicitly requested provider is missing (or no GPU is
    present for it) and ``ValueError`` for a preference that names nothing known.
    """
    validate_preference(preference)
    if available is None:
        offered = available_providers()
    elif callable(available):
        offered = list(available())
    else:
        offered = list(available)
    has_gpu = gpu() if callable(gpu) else gpu
    if isinstance(preference, str):
        return _plan_named(preference.strip().lower(), offered, has_gpu)
    return _plan_explicit(list(preference), offered, has_gpu)


def _plan_named(name: str, offered: list[str], has_gpu: bool | None) -> ProviderPlan:
    if name == "auto":
        if has_gpu is False:
            return ProviderPlan((CPU,), None, "auto", "no GPU present: CPU only")
        chosen = (*(p for p in AUTO_ORDER if p in offered and p != CPU), CPU)
        return ProviderPlan(chosen, None, "auto")
    wanted = _NAMED[name]
    primary = wanted[0]
    _require((primary,), offered, has_gpu)
    # TensorRT normally runs beside CUDA; keep CUDA only when this build has it.
    chosen = tuple(p for p in wanted if p in (primary, CPU) or p in offered)
    return ProviderPlan(chosen, primary, name)


def _plan_explicit(names: list[str], offered: list[str], has_gpu: bool | None) -> ProviderPlan:
    chosen = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
    _require(chosen, offered, has_gpu)
    return ProviderPlan(chosen, chosen[0], ",".join(chosen))


def _require(wanted: Sequence[str], offered: list[str], has_gpu: bool | None) -> None:
    """Raise ProviderError unless every provider in ``wanted`` can run here."""
    missing = [p for p in wanted if p != CPU and p not in offered]
    if missing:
        raise ProviderError(
            f"{', '.join(missing)} requested but onnxruntime reports only {offered}"
        )
    gpu_wanted = [p for p in wanted if p in GPU_PROVIDERS]
    if gpu_wanted and has_gpu is False:
        raise ProviderError(f"{', '.join(gpu_wanted)} requested but no GPU is present")


def check_session_providers(session: HasProviders, plan: ProviderPlan) -> tuple[str, str | None]:
    """Return (provider actually in use, warning or None); raise on a silent fallback.

    onnxruntime lists the session's active providers in priority order, so the first
    one is where the graph mostly runs.
    """
    active = list(session.get_providers())
    in_use = active[0] if active else "none"
    if plan.required is not None and plan.required not in active:
        raise ProviderFallbackError(
            f"{plan.required} requested but the session runs on {active} "
            "(onnxruntime fell back silently; check the CUDA/cuDNN/TensorRT libraries)"
        )
    preferred = plan.providers[0]
    if plan.required is None and preferred not in active:
        return in_use, f"auto: {preferred} was offered but the session runs on {in_use}"
    return in_use, None
