"""Which engines a worker can run, and why not: missing, corrupt or unlicensed models,
provider fallbacks. The classic engine is always there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server.engines import build_engines, load_engines
from server.engines.neural import NeuralEngine
from server.engines.neural_registry import wanted_models
from server.runtime import ModelStore, load_manifest
from server.runtime.providers import CPU, CUDA
from tests.engines.synthetic import loaded_store, with_model
from tests.runtime.fakes import Factory, GpuFailsFactory


@pytest.fixture
def models(mixing_dir: Path, tmp_path: Path) -> Path:
    """A private copy to damage."""
    return Path(shutil.copytree(mixing_dir, tmp_path / "models"))


def test_no_store_means_classic_only() -> None:
    built = load_engines(None, None)
    assert list(built.engines) == ["classic"] and built.neural_faces is None
    assert "no model store" in built.unavailable["neural"]
    assert list(build_engines(None)) == ["classic"]


def test_all_models_give_both_engines(models: Path) -> None:
    built = load_engines(None, loaded_store(models))
    assert set(built.engines) == {"classic", "neural"} and built.unavailable == {}
    assert built.neural_faces is not None and built.neural_faces.detector is not None
    assert built.neural_faces.model["name"] == "w600k_r50"


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("corrupt", "inswapper_128: sha256 mismatch"),
        ("missing", "inswapper_128: missing file"),
    ],
)
def test_a_bad_swapper_leaves_classic_serving(models: Path, damage: str, expected: str) -> None:
    path = models / "inswapper_128.onnx"
    if damage == "corrupt":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.unlink()
    built = load_engines(None, loaded_store(models))
    assert list(built.engines) == ["classic"]
    assert expected in built.unavailable["neural"]
    assert built.neural_faces is not None  # identities still get embeddings


def test_missing_recogniser_or_detector(models: Path) -> None:
    (models / "det_10g.onnx").unlink()
    built = load_engines(None, loaded_store(models))
    assert "neural" in built.engines and built.neural_faces is not None
    assert built.neural_faces.detector is None  # optional: dlib's points instead
    (models / "w600k_r50.onnx").unlink()
    built = load_engines(None, loaded_store(models))
    assert "w600k_r50: missing file" in built.unavailable["neural"]
    assert built.neural_faces is None


def test_noncommercial_models_need_consent(models: Path) -> None:
    manifest = with_model(
        load_manifest(models / "manifest.json"), "inswapper_128", commercial_use=False
    )
    for allowed in (False, True):
        store = ModelStore(manifest, models, "cpu", allow_noncommercial=allowed)
        store.load()
        built = load_engines(None, store)
        assert ("neural" in built.engines) is allowed
        if not allowed:
            assert "forbids commercial use" in built.unavailable["neural"]


def test_enhancer_is_loaded_only_when_asked_and_present(models: Path) -> None:
    store = loaded_store(models, names=wanted_models(enhancer=True))
    with_enhancer = load_engines(None, store, enhancer=True).engines["neural"]
    assert isinstance(with_enhancer, NeuralEngine) and with_enhancer.enhancer is not None
    without = load_engines(None, store, enhancer=False).engines["neural"]
    assert isinstance(without, NeuralEngine) and without.enhancer is None
    (models / "gfpgan_1.4.onnx").unlink()
    store = loaded_store(models, names=wanted_models(enhancer=True))
    fallback = load_engines(None, store, enhancer=True).engines["neural"]
    assert isinstance(fallback, NeuralEngine) and fallback.enhancer is None
    assert fallback.describe()["options"]["enhance"] is False


def test_auto_falls_back_to_cpu_when_the_gpu_session_fails(models: Path) -> None:
    factory = GpuFailsFactory()
    store = loaded_store(
        models, "auto", available_providers=[CUDA, CPU], gpu_present=True, session_factory=factory
    )
    engine = load_engines(None, store).engines["neural"]
    assert isinstance(engine, NeuralEngine)
    assert {m["provider"] for m in engine.describe()["models"]} == {CPU}
    assert "running on CPU" in (store.model_status("inswapper_128").warning or "")
    assert not engine.swapper.runner.uses_binding
    assert any(CUDA in providers for _, providers in factory.calls)


def test_explicit_gpu_that_fails_makes_neural_unavailable(models: Path) -> None:
    store = loaded_store(
        models, "cuda", available_providers=[CUDA, CPU], gpu_present=True,
        session_factory=GpuFailsFactory(),
    )  # fmt: skip
    built = load_engines(None, store)
    assert list(built.engines) == ["classic"]
    assert "session creation failed" in built.unavailable["neural"]


def test_a_cuda_session_is_run_through_io_binding(models: Path) -> None:
    store = loaded_store(
        models, "cuda", available_providers=[CUDA, CPU], gpu_present=True,
        session_factory=Factory(claim=[CUDA, CPU]),
    )  # fmt: skip
    engine = load_engines(None, store).engines["neural"]
    assert isinstance(engine, NeuralEngine)
    assert engine.swapper.runner.uses_binding and engine.swapper.runner.device == "cuda"
    info = engine.describe()
    assert info["io_binding"] is True
    assert {m["provider"] for m in info["models"]} == {CUDA}
