"""Execution provider choice with faked onnxruntime provider lists and sessions."""

from __future__ import annotations

from types import SimpleNamespace

import onnxruntime
import pytest

from server.runtime.providers import (
    CPU,
    CUDA,
    TENSORRT,
    ProviderError,
    ProviderFallbackError,
    check_session_providers,
    choose_providers,
    detect_gpu,
)

CPU_BUILD = ["AzureExecutionProvider", CPU]
GPU_BUILD = [TENSORRT, CUDA, "AzureExecutionProvider", CPU]
CUDA_BUILD = [CUDA, CPU]


class FakeSession:
    def __init__(self, providers: list[str]) -> None:
        self._providers = providers

    def get_providers(self) -> list[str]:
        return list(self._providers)


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (GPU_BUILD, (TENSORRT, CUDA, CPU)),
        (CUDA_BUILD, (CUDA, CPU)),
        (CPU_BUILD, (CPU,)),
        ([], (CPU,)),
    ],
)
def test_auto_prefers_tensorrt_then_cuda_then_cpu(available, expected):
    plan = choose_providers("auto", available)
    assert plan.providers == expected
    assert plan.required is None


@pytest.mark.parametrize(
    ("preference", "available", "expected"),
    [
        ("cpu", GPU_BUILD, (CPU,)),
        ("cuda", GPU_BUILD, (CUDA, CPU)),
        ("CUDA", CUDA_BUILD, (CUDA, CPU)),
        ("tensorrt", GPU_BUILD, (TENSORRT, CUDA, CPU)),
        ("tensorrt", [TENSORRT, CPU], (TENSORRT, CPU)),
        ([CUDA, CPU], GPU_BUILD, (CUDA, CPU)),
    ],
)
def test_named_and_explicit_preferences(preference, available, expected):
    plan = choose_providers(preference, available)
    assert plan.providers == expected
    assert plan.required == expected[0]


@pytest.mark.parametrize(
    ("preference", "missing"),
    [("cuda", CUDA), ("tensorrt", TENSORRT), ([TENSORRT, CPU], TENSORRT)],
)
def test_requested_gpu_provider_missing_is_an_error(preference, missing):
    with pytest.raises(ProviderError) as caught:
        choose_providers(preference, CPU_BUILD)
    assert str(caught.value) == (
        f"{missing} requested but onnxruntime reports only ['AzureExecutionProvider', "
        "'CPUExecutionProvider']"
    )


@pytest.mark.parametrize("preference", ["gpu", "", []])
def test_nonsense_preference_is_a_value_error(preference):
    with pytest.raises(ValueError):
        choose_providers(preference, GPU_BUILD)


def test_available_list_can_be_a_callable():
    assert choose_providers("auto", lambda: CUDA_BUILD).providers == (CUDA, CPU)


def test_default_asks_the_installed_onnxruntime():
    import onnxruntime

    plan = choose_providers("auto")
    assert set(plan.providers) <= set(onnxruntime.get_available_providers())


def test_session_on_the_required_provider_passes():
    plan = choose_providers("cuda", CUDA_BUILD)
    assert check_session_providers(FakeSession([CUDA, CPU]), plan) == (CUDA, None)


def test_silent_cpu_fallback_is_detected_when_cuda_was_requested():
    plan = choose_providers("cuda", CUDA_BUILD)
    with pytest.raises(ProviderFallbackError, match=r"CUDAExecutionProvider requested.*\['CPU"):
        check_session_providers(FakeSession([CPU]), plan)


def test_auto_fallback_is_reported_as_a_warning():
    plan = choose_providers("auto", GPU_BUILD)
    in_use, warning = check_session_providers(FakeSession([CUDA, CPU]), plan)
    assert in_use == CUDA
    assert warning == f"auto: {TENSORRT} was offered but the session runs on {CUDA}"
    assert check_session_providers(FakeSession([CPU]), choose_providers("auto", CPU_BUILD)) == (
        CPU,
        None,
    )


@pytest.mark.parametrize("gpu", [True, None, lambda: None])
def test_auto_uses_the_gpu_build_unless_no_gpu_is_known(gpu):
    assert choose_providers("auto", GPU_BUILD, gpu).providers == (TENSORRT, CUDA, CPU)


def test_auto_is_cpu_only_when_no_gpu_is_present():
    """onnxruntime-gpu lists CUDA/TensorRT even on a machine without a GPU."""
    plan = choose_providers("auto", GPU_BUILD, gpu=lambda: False)
    assert plan.providers == (CPU,) and plan.required is None
    assert plan.note == "no GPU present: CPU only"


@pytest.mark.parametrize("preference", ["cuda", "tensorrt", [CUDA, CPU]])
def test_explicit_gpu_request_without_a_gpu_is_an_error(preference):
    with pytest.raises(ProviderError, match="requested but no GPU is present"):
        choose_providers(preference, GPU_BUILD, gpu=False)
    assert choose_providers("cpu", GPU_BUILD, gpu=False).providers == (CPU,)


def _devices(*types):
    return [SimpleNamespace(device=SimpleNamespace(type=t), ep_name="X") for t in types]


def test_detect_gpu_reads_the_device_enumeration(monkeypatch):
    kinds = onnxruntime.OrtHardwareDeviceType
    monkeypatch.setattr(onnxruntime, "get_ep_devices", lambda: _devices(kinds.CPU, kinds.GPU))
    assert detect_gpu() is True
    monkeypatch.setattr(onnxruntime, "get_ep_devices", lambda: _devices(kinds.CPU))
    assert detect_gpu() is None  # absence proves nothing for built-in CUDA providers

    def broken():
        raise RuntimeError("no enumeration here")

    monkeypatch.setattr(onnxruntime, "get_ep_devices", broken)
    assert detect_gpu() is None
    monkeypatch.delattr(onnxruntime, "get_ep_devices")
    assert detect_gpu() is None
