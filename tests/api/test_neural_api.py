"""The neural engine through the API, on synthetic models: engine choice (auto /
classic / neural), 409 engine_unavailable with the reason, /readyz model states, the
identity embedding at upload and, for older identities, at first use."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from server.engines.motion_neural_registry import wanted_motion_models
from server.storage.identities import IdentityStore
from server.storage.layout import DataLayout
from tests.api.conftest import TEMPLATE_ID, AppFactory, upload
from tests.api.test_render_end_to_end import wait_done
from tests.engines.synthetic import write_models
from tools.synthetic_motion_models import write_synthetic_motion_models


@pytest.fixture(scope="module")
def synthetic_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_models(tmp_path_factory.mktemp("api-models"), swapper="mixing")


@pytest.fixture
def models_copy(synthetic_models: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(synthetic_models, tmp_path / "models"))


def render(client: Any, identity: str, **extra: Any) -> Any:
    return client.post(
        "/v1/renders", json={"identity_id": identity, "template_id": TEMPLATE_ID, **extra}
    )


def test_readyz_lists_the_models_and_both_engines(
    make_app: AppFactory, synthetic_models: Path
) -> None:
    body = make_app(models_dir=synthetic_models).test_client().get("/readyz").json
    assert body["ready"] and body["engines"] == ["classic", "neural"]
    assert body["engines_unavailable"] == {}
    assert set(body["models"]) == {"inswapper_128", "w600k_r50", "det_10g"}
    for model in body["models"].values():
        assert model["present"] and model["verified"] and model["available"]
        assert model["provider"] == "CPUExecutionProvider" and model["license"] == "synthetic"
        assert model["state"] == "ready"


def test_engine_choice_and_identical_requests(
    make_app: AppFactory, synthetic_models: Path, face_jpeg: bytes
) -> None:
    client = make_app(models_dir=synthetic_models).test_client()
    created = upload(client, face_jpeg)
    assert created.status_code == 201
    assert created.json["quality"]["embedding"]["keypoints"] == ["dlib68"]
    identity = created.json["id"]
    auto = render(client, identity)
    assert auto.status_code == 202, auto.json
    done = wait_done(client, auto.json["status_url"])
    assert done["status"] == "done", done["error"]
    assert done["engine"] == "neural"
    models = [m["name"] for m in done["engine_info"]["models"]]
    assert models == ["inswapper_128", "w600k_r50"] and done["engine_info"]["version"] >= 1
    assert all(len(m["sha256"]) == 64 for m in done["engine_info"]["models"])
    explicit = render(client, identity, engine="neural")  # same resolved engine: reused
    assert explicit.status_code == 200 and explicit.json["id"] == auto.json["id"]
    classic = render(client, identity, engine="classic")
    assert classic.status_code == 202 and classic.json["id"] != auto.json["id"]
    assert wait_done(client, classic.json["status_url"])["engine"] == "classic"
    with client.get(done["result_url"]) as result:
        assert result.status_code == 200 and result.data[:6] == b"GIF89a"
    assert render(client, identity, engine="turbo").status_code == 422


def test_neural_without_models_is_409_with_the_reason(
    make_app: AppFactory, face_jpeg: bytes
) -> None:
    client = make_app().test_client()  # no models directory at all
    identity = upload(client, face_jpeg).json["id"]
    refused = render(client, identity, engine="neural")
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "engine_unavailable"
    assert "manifest" in refused.json["error"]["message"]
    fallback = render(client, identity, engine="auto")
    assert fallback.status_code == 202
    assert client.get(fallback.json["status_url"]).json["engine"] == "classic"
    ready = client.get("/readyz").json
    assert ready["ready"] and ready["engines"] == ["classic"] and ready["models"] == {}
    assert "manifest" in ready["engines_unavailable"]["neural"]


def test_corrupt_swapper_leaves_classic_serving(
    make_app: AppFactory, models_copy: Path, face_jpeg: bytes
) -> None:
    path = models_copy / "inswapper_128.onnx"
    data = bytearray(path.read_bytes())
    data[100] ^= 0x55
    path.write_bytes(bytes(data))
    client = make_app(models_dir=models_copy).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["engines"] == ["classic"]
    swapper = ready.json["models"]["inswapper_128"]
    assert swapper["present"] and not swapper["verified"] and not swapper["available"]
    assert "sha256 mismatch" in swapper["state"]
    assert ready.json["models"]["w600k_r50"]["available"]
    identity = upload(client, face_jpeg).json["id"]
    refused = render(client, identity, engine="neural")
    assert refused.status_code == 409 and "sha256 mismatch" in refused.json["error"]["message"]
    assert render(client, identity, engine="classic").status_code == 202


def test_old_identity_gets_its_embedding_once(
    make_app: AppFactory,
    synthetic_models: Path,
    face_jpeg: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = make_app().test_client()  # before the models were installed
    identity = upload(old, face_jpeg).json["id"]
    store = IdentityStore(DataLayout(tmp_path / "data"))
    assert store.load(identity).embedding is None
    import server.faces.embedding as embedding

    calls: list[str] = []
    original = embedding.embedding_from_texture
    monkeypatch.setattr(
        embedding,
        "embedding_from_texture",
        lambda *a: calls.append("texture") or original(*a),
    )
    client = make_app(models_dir=synthetic_models).test_client()
    for fmt in ("gif", "webp"):
        accepted = render(client, identity, format=fmt)
        done = wait_done(client, accepted.json["status_url"])
        assert done["status"] == "done" and done["engine"] == "neural", done["error"]
    assert calls == ["texture"]  # computed by the first render, saved, reused
    stored = store.load(identity)
    assert stored.embedding is not None and abs(np.linalg.norm(stored.embedding) - 1) < 1e-5
    assert client.get(f"/v1/identities/{identity}").json["quality"]["embedding"]["keypoints"] == [
        "texture"
    ]


def test_a_failing_detector_does_not_fail_the_upload(
    make_app: AppFactory,
    synthetic_models: Path,
    face_jpeg: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from server.faces.neural import FivePointDetector

    def explode(self: Any, image: Any) -> Any:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(FivePointDetector, "__call__", explode)
    client = make_app(models_dir=synthetic_models).test_client()
    created = upload(client, face_jpeg)
    assert created.status_code == 201
    assert created.json["quality"]["embedding"]["keypoints"] == ["dlib68"]


def test_readyz_lists_the_live_portrait_models_loaded_once_per_worker(
    make_app: AppFactory, tmp_path: Path
) -> None:
    models = tmp_path / "live_portrait"
    write_synthetic_motion_models(models)
    body = make_app(models_dir=models).test_client().get("/readyz").json
    assert set(body["models"]) == set(wanted_motion_models())
    assert all(m["state"] == "ready" for m in body["models"].values())
    assert body["engines"] == ["classic"]  # the swap models are absent
