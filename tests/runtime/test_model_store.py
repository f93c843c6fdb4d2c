"""ModelStore on synthetic models: verification, sessions, warm-up, reasons."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from server.runtime import (
    HashCache,
    ModelStore,
    ModelUnavailableError,
    TensorSpec,
)
from server.runtime.providers import CPU
from server.runtime.sessions import DEFAULT_SPATIAL, warmup_shape
from server.runtime.verify import write_recorded_sha256
from tests.runtime.fakes import Factory, with_model


def test_good_models_are_verified_opened_and_warmed(models_dir, synthetic_manifest):
    store = ModelStore(synthetic_manifest, models_dir, "cpu")
    statuses = store.load()
    assert list(statuses) == synthetic_manifest.names()
    for status in statuses.values():
        assert (status.present, status.verified, status.available) == (True, True, True)
        assert status.provider == CPU and status.state == "ready"
        assert status.warmup_ms is not None and status.warmup_ms >= 0
    assert store.ready()
    feed = {
        "target": np.full((1, 3, 128, 128), 0.5, np.float32),
        "source": np.ones((1, 512), np.float32),
    }
    (out,) = store.get_session("inswapper_128").run(None, feed)
    assert out.shape == (1, 3, 128, 128)
    body = json.loads(json.dumps(store.status()))
    assert body["det_10g"]["state"] == "ready" and body["det_10g"]["license"] == "synthetic"


def test_warm_up_feeds_zeros_shaped_by_the_manifest(models_dir, synthetic_manifest):
    factory = Factory()
    ModelStore(synthetic_manifest, models_dir, "cpu", session_factory=factory).load()
    (det_feed,) = factory.sessions["det_10g.onnx"].feeds
    assert det_feed["input.1"].shape == (1, 3, 640, 640)
    (swap_feed,) = factory.sessions["inswapper_128.onnx"].feeds
    assert {k: v.shape for k, v in swap_feed.items()} == {
        "target": (1, 3, 128, 128),
        "source": (1, 512),
    }
    assert not any(v.any() for v in swap_feed.values())


def test_checksum_mismatch_makes_only_that_model_unavailable(models_dir, synthetic_manifest):
    path = models_dir / "inswapper_128.onnx"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    store = ModelStore(synthetic_manifest, models_dir, "cpu")
    status = store.load()["inswapper_128"]
    assert status.present and not status.verified and not status.available
    assert status.state.startswith("unavailable: sha256 mismatch (manifest)")
    assert store.is_available("det_10g") and not store.ready()
    assert store.ready(["det_10g", "w600k_r50"])
    with pytest.raises(ModelUnavailableError, match="sha256 mismatch") as caught:
        store.get_session("inswapper_128")
    assert caught.value.name == "inswapper_128"


def test_missing_file_is_unavailable(models_dir, synthetic_manifest):
    (models_dir / "w600k_r50.onnx").unlink()
    status = ModelStore(synthetic_manifest, models_dir, "cpu").load()["w600k_r50"]
    assert not status.present and not status.available
    assert status.reason is not None and status.reason.startswith("missing file")


def test_unloadable_file_is_unavailable_with_reason(models_dir, synthetic_manifest):
    garbage = b"not an onnx graph" * 10
    (models_dir / "gfpgan_1.4.onnx").write_bytes(garbage)
    manifest = with_model(
        synthetic_manifest,
        "gfpgan_1.4",
        bytes=len(garbage),
        sha256=hashlib.sha256(garbage).hexdigest(),
    )
    status = ModelStore(manifest, models_dir, "cpu", ["gfpgan_1.4"]).load()["gfpgan_1.4"]
    assert status.verified and not status.available
    assert (status.reason or "").startswith("session creation failed: ")


def test_signature_mismatch_is_unavailable(models_dir, synthetic_manifest):
    spec = TensorSpec(name="restored", shape=(1, 3, 512, 512))
    manifest = with_model(synthetic_manifest, "gfpgan_1.4", outputs=(spec,), normalisation=None)
    status = ModelStore(manifest, models_dir, "cpu", ["gfpgan_1.4"]).load()["gfpgan_1.4"]
    assert not status.available
    assert status.reason == (
        "graph signature differs from the manifest: "
        "output names ['output'] != manifest ['restored']"
    )


def test_warm_up_failure_is_unavailable(models_dir, synthetic_manifest):
    spec = TensorSpec(name="input.1", shape=("None", 3, "h", "w"), warmup_shape=(1, 3, 64, 64))
    manifest = with_model(synthetic_manifest, "w600k_r50", inputs=(spec,))
    status = ModelStore(manifest, models_dir, "cpu", ["w600k_r50"]).load()["w600k_r50"]
    assert not status.available and (status.reason or "").startswith("warm-up failed: ")


def test_noncommercial_models_can_be_refused(models_dir, synthetic_manifest):
    manifest = with_model(synthetic_manifest, "det_10g", commercial_use=False, license="NC")
    store = ModelStore(manifest, models_dir, "cpu", allow_noncommercial=False)
    statuses = store.load()
    assert not statuses["det_10g"].available and statuses["det_10g"].commercial_use is False
    assert "forbids commercial use" in (statuses["det_10g"].reason or "")
    assert statuses["w600k_r50"].available


def test_unpinned_model_uses_the_hash_recorded_at_fetch(models_dir, synthetic_manifest):
    manifest = with_model(synthetic_manifest, "gfpgan_1.4", sha256=None)
    store = ModelStore(manifest, models_dir, "cpu", ["gfpgan_1.4"])
    assert "unpinned" in (store.load()["gfpgan_1.4"].reason or "")
    path = models_dir / "gfpgan_1.4.onnx"
    write_recorded_sha256(path, hashlib.sha256(path.read_bytes()).hexdigest())
    status = ModelStore(manifest, models_dir, "cpu", ["gfpgan_1.4"]).load()["gfpgan_1.4"]
    assert status.available and not status.pinned and status.hash_source == "recorded"


def test_load_once_and_no_rehash_on_restart(models_dir, synthetic_manifest):
    factory, cache = Factory(), HashCache()
    store = ModelStore(
        synthetic_manifest, models_dir, "cpu", session_factory=factory, hash_cache=cache
    )
    store.load()
    store.load()
    assert len(factory.calls) == len(synthetic_manifest.models)
    ModelStore(synthetic_manifest, models_dir, "cpu", hash_cache=cache).load()
    assert cache.misses == len(synthetic_manifest.models)


def test_status_before_load_and_bad_arguments(models_dir, synthetic_manifest):
    store = ModelStore(synthetic_manifest, models_dir, "cpu", ["det_10g"])
    assert list(store.status()) == ["det_10g"]
    with pytest.raises(ModelUnavailableError, match="not loaded"):
        store.get_session("det_10g")
    with pytest.raises(KeyError):
        store.get_session("w600k_r50")
    with pytest.raises(ValueError, match="unknown model"):
        ModelStore(synthetic_manifest, models_dir, "cpu", ["nope"])
    with pytest.raises(ValueError, match="unknown provider preference"):
        ModelStore(synthetic_manifest, models_dir, "gpu")
    assert store.path("det_10g") == models_dir / "det_10g.onnx"


def test_a_directory_instead_of_a_file_does_not_stop_loading(models_dir, synthetic_manifest):
    (models_dir / "gfpgan_1.4.onnx").unlink()
    (models_dir / "gfpgan_1.4.onnx").mkdir()
    statuses = ModelStore(synthetic_manifest, models_dir, "cpu").load()
    assert (
        statuses["gfpgan_1.4"].reason == f"{models_dir / 'gfpgan_1.4.onnx'} is not a regular file"
    )
    assert statuses["w600k_r50"].available


def test_symbolic_spatial_dims_warm_up_at_the_default_size(models_dir, synthetic_manifest):
    det = synthetic_manifest.get("det_10g")
    spec = det.inputs[0].model_copy(update={"warmup_shape": None})
    manifest = with_model(synthetic_manifest, "det_10g", inputs=(spec,))
    assert warmup_shape(manifest.get("det_10g"), spec) == (1, 3, DEFAULT_SPATIAL, DEFAULT_SPATIAL)
    factory = Factory()
    status = ModelStore(manifest, models_dir, "cpu", ["det_10g"], session_factory=factory).load()
    assert status["det_10g"].available
    assert factory.sessions["det_10g.onnx"].feeds[0]["input.1"].shape == (1, 3, 640, 640)


def test_warm_up_shape_follows_the_layout(synthetic_manifest):
    entry = synthetic_manifest.get("gfpgan_1.4")
    image = TensorSpec(name="input", shape=("n", "h", "w", 3))
    norm = entry.normalisation.model_copy(update={"layout": "NHWC"})
    nhwc = entry.model_copy(update={"inputs": (image,), "normalisation": norm})
    assert warmup_shape(nhwc, image) == (1, DEFAULT_SPATIAL, DEFAULT_SPATIAL, 3)
    other = TensorSpec(name="kp", shape=("n", "k", 2))
    assert warmup_shape(nhwc, other) == (1, 1, 2)
