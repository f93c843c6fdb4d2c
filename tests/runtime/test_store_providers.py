"""ModelStore and provider choice together: faked GPU hosts around real CPU sessions."""

from __future__ import annotations

from typing import Any

from server.runtime import ModelStore, SessionConfig, create_session
from server.runtime import sessions as sessions_module
from server.runtime.providers import CPU, CUDA, TENSORRT
from tests.runtime.fakes import Factory, GpuFailsFactory


def test_requested_cuda_absent_makes_models_unavailable_loudly(models_dir, synthetic_manifest):
    factory = Factory()
    store = ModelStore(
        synthetic_manifest, models_dir, "cuda", available_providers=[CPU], session_factory=factory
    )
    for status in store.load().values():
        assert status.verified and not status.available
        assert status.state == (
            "unavailable: CUDAExecutionProvider requested but onnxruntime reports only "
            "['CPUExecutionProvider']"
        )
    assert factory.calls == []


def test_silent_cpu_fallback_is_detected(models_dir, synthetic_manifest):
    factory = Factory(claim=[CPU])
    store = ModelStore(
        synthetic_manifest,
        models_dir,
        "cuda",
        ["det_10g"],
        available_providers=[CUDA, CPU],
        session_factory=factory,
    )
    status = store.load()["det_10g"]
    assert factory.calls == [("det_10g.onnx", (CUDA, CPU))]
    assert not status.available and status.session_providers == (CPU,)
    assert "CUDAExecutionProvider requested but the session runs on ['CPUExecutionProvider']" in (
        status.reason or ""
    )


def test_provider_actually_in_use_is_reported(models_dir, synthetic_manifest):
    factory = Factory(claim=[CUDA, CPU])
    store = ModelStore(
        synthetic_manifest,
        models_dir,
        "auto",
        available_providers=[CUDA, CPU],
        session_factory=factory,
    )
    status = store.load()["w600k_r50"]
    assert status.available and status.provider == CUDA and status.warning is None
    assert status.to_dict()["session_providers"] == [CUDA, CPU]


def test_auto_retries_on_cpu_and_says_so(models_dir, synthetic_manifest):
    factory = GpuFailsFactory()
    store = ModelStore(
        synthetic_manifest,
        models_dir,
        "auto",
        ["w600k_r50"],
        available_providers=[CUDA, CPU],
        session_factory=factory,
    )
    status = store.load()["w600k_r50"]
    assert factory.calls == [("w600k_r50.onnx", (CUDA, CPU)), ("w600k_r50.onnx", (CPU,))]
    assert status.available and status.provider == CPU
    assert status.warning == (
        "auto: session on ['CUDAExecutionProvider', 'CPUExecutionProvider'] failed "
        "(RuntimeError: CUDA failure 100: no CUDA-capable device is detected); running on CPU"
    )


def test_explicit_cuda_session_failure_is_not_retried(models_dir, synthetic_manifest):
    factory = GpuFailsFactory()
    store = ModelStore(
        synthetic_manifest,
        models_dir,
        "cuda",
        ["w600k_r50"],
        available_providers=[CUDA, CPU],
        session_factory=factory,
    )
    status = store.load()["w600k_r50"]
    assert factory.calls == [("w600k_r50.onnx", (CUDA, CPU))]
    assert not status.available
    assert status.reason == (
        "session creation failed: RuntimeError: CUDA failure 100: no CUDA-capable device "
        "is detected"
    )


def test_auto_without_gpu_never_asks_for_cuda(models_dir, synthetic_manifest):
    factory = Factory()
    store = ModelStore(
        synthetic_manifest,
        models_dir,
        "auto",
        ["det_10g"],
        available_providers=[TENSORRT, CUDA, CPU],
        gpu_present=False,
        session_factory=factory,
    )
    assert store.load()["det_10g"].available
    assert factory.calls == [("det_10g.onnx", (CPU,))]


def test_create_session_disables_onnxruntime_own_fallback(monkeypatch, tmp_path):
    seen: dict[str, Any] = {}

    def fake_session(path: str, **kwargs: Any) -> str:
        seen.update(kwargs, path=path)
        return "session"

    monkeypatch.setattr(sessions_module.ort, "InferenceSession", fake_session)
    config = SessionConfig(provider_options={CUDA: {"device_id": "0"}})
    assert create_session(tmp_path / "m.onnx", [CUDA, CPU], config) == "session"
    assert seen["enable_fallback"] == 0
    assert seen["providers"] == [CUDA, CPU]
    assert seen["provider_options"] == [{"device_id": "0"}, {}]
