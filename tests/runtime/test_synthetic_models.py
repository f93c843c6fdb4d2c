"""Synthetic graphs: real signatures, determinism, and insightface's own classes."""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from insightface.model_zoo.arcface_onnx import ArcFaceONNX
from insightface.model_zoo.inswapper import INSwapper
from insightface.model_zoo.scrfd import SCRFD

from server.runtime import ModelStore, load_manifest
from server.runtime.sessions import SessionConfig, create_session
from tools.synthetic_models import build_inswapper, main, write_synthetic_models

TYPES = {"float32": "tensor(float)"}


@pytest.fixture(scope="module")
def store(synthetic_dir):
    models = ModelStore(load_manifest(synthetic_dir / "manifest.json"), synthetic_dir, "cpu")
    models.load()
    assert models.ready(), models.status()
    return models


def _session(path):
    return create_session(path, ["CPUExecutionProvider"], SessionConfig())


def test_signatures_equal_the_production_manifest(synthetic_dir, production_manifest):
    for name in ("inswapper_128", "det_10g", "w600k_r50", "gfpgan_1.4"):
        entry = production_manifest.get(name)
        session = _session(synthetic_dir / entry.file)
        for specs, infos in (
            (entry.inputs, session.get_inputs()),
            (entry.outputs, session.get_outputs()),
        ):
            got = [(i.name, list(i.shape), i.type) for i in infos]
            want = [(s.name, list(s.shape), TYPES[s.dtype]) for s in specs]
            assert got == want, name


def test_generation_is_deterministic(synthetic_dir, tmp_path):
    again = write_synthetic_models(tmp_path)
    for entry in again.models:
        assert hashlib.sha256((synthetic_dir / entry.file).read_bytes()).hexdigest() == entry.sha256


def test_identity_swapper_returns_the_target(production_manifest, tmp_path, capsys):
    path = tmp_path / "identity.onnx"
    onnx.save(build_inswapper(production_manifest.get("inswapper_128"), "identity"), str(path))
    swapper = INSwapper(model_file=str(path), session=_session(path))
    assert "inswapper-shape" in capsys.readouterr().out
    img = np.random.default_rng(0).uniform(0, 255, (1, 3, 128, 128)).astype(np.float32)
    latent = np.random.default_rng(1).standard_normal((1, 512)).astype(np.float32)
    np.testing.assert_array_equal(swapper.forward(img, latent), img / np.float32(255.0))
    assert swapper.emap.shape == (512, 512)


def test_mixing_swapper_depends_on_source_and_target(store):
    session = store.get_session("inswapper_128")
    rng = np.random.default_rng(2)
    target = rng.uniform(0.2, 0.8, (1, 3, 128, 128)).astype(np.float32)
    a, b = (v / np.linalg.norm(v) for v in rng.standard_normal((2, 1, 512)).astype(np.float32))
    out_a = session.run(None, {"target": target, "source": a})[0]
    out_b = session.run(None, {"target": target, "source": b})[0]
    out_c = session.run(None, {"target": target[:, ::-1].copy(), "source": a})[0]
    assert np.abs(out_a - out_b).max() > 0.01
    assert np.abs(out_a - out_c).max() > 0.01
    assert out_a.min() >= 0.0 and out_a.max() <= 1.0


def _face_image(height, width, row, col):
    img = np.zeros((height, width, 3), np.uint8)
    img[row * 32 : row * 32 + 32, col * 32 : col * 32 + 32] = 255
    return img


@pytest.mark.parametrize(("size", "cell"), [((640, 640), (10, 6)), ((640, 480), (3, 12))])
def test_scrfd_finds_the_planted_face(store, size, cell):
    detector = SCRFD(model_file=str(store.path("det_10g")), session=store.get_session("det_10g"))
    width, height = size
    boxes, kps = detector.detect(_face_image(height, width, *cell), input_size=size)
    assert boxes.shape == (1, 5) and kps.shape == (1, 5, 2)
    centre = np.array([cell[1] * 32 + 16, cell[0] * 32 + 16], np.float32)
    np.testing.assert_allclose((boxes[0, :2] + boxes[0, 2:4]) / 2, centre, atol=1e-3)
    np.testing.assert_allclose(boxes[0, 2:4] - boxes[0, :2], [128, 128], atol=1e-3)
    assert boxes[0, 4] > 0.99
    assert kps[0, 0, 0] < kps[0, 1, 0] and kps[0, 2, 1] < kps[0, 3, 1]  # eyes l/r, nose above mouth


def test_scrfd_can_run_on_the_store_session_only(store):
    """insightface 2.1 clones one static-shape session per input size unless told not to;
    engines pass static_shape_sessions=False so the store's checked session does the work."""
    session = store.get_session("det_10g")
    detector = SCRFD(
        model_file=str(store.path("det_10g")), session=session, static_shape_sessions=False
    )
    boxes, _ = detector.detect(_face_image(640, 640, 4, 4), input_size=(640, 640))
    assert boxes.shape == (1, 5) and boxes[0, 4] > 0.99
    assert list(detector.resolution_sessions.values()) == [session]


def test_scrfd_finds_nothing_in_a_dark_image(store):
    detector = SCRFD(model_file=str(store.path("det_10g")), session=store.get_session("det_10g"))
    boxes, kps = detector.detect(np.zeros((480, 640, 3), np.uint8))
    assert boxes.shape == (0, 5) and kps.shape == (0, 5, 2)


def test_arcface_runs_in_insightface(store):
    model = ArcFaceONNX(
        model_file=str(store.path("w600k_r50")), session=store.get_session("w600k_r50")
    )
    assert (model.input_mean, model.input_std, model.input_size) == (127.5, 127.5, (112, 112))
    rng = np.random.default_rng(3)
    faces = [rng.integers(0, 256, (112, 112, 3), np.uint8) for _ in range(2)]
    batch = model.get_feat(faces)
    assert batch.shape == (2, 512)
    np.testing.assert_allclose(model.get_feat(faces[0])[0], batch[0], rtol=1e-5, atol=1e-5)
    assert model.compute_sim(batch[0], batch[1]) < 0.99


def test_gfpgan_stand_in_blurs_within_range(store):
    session = store.get_session("gfpgan_1.4")
    checker = np.indices((512, 512)).sum(axis=0) % 2 * 2.0 - 1.0
    image = np.broadcast_to(checker, (1, 3, 512, 512)).astype(np.float32)
    (out,) = session.run(None, {"input": image})
    assert out.shape == image.shape and np.abs(out).max() <= 1.0
    assert out[..., 1:-1, 1:-1].std() < image.std() / 2


def test_cli_writes_models_and_manifest(tmp_path, capsys):
    assert main(["--dir", str(tmp_path), "--swapper", "identity"]) == 0
    assert "manifest.json: 4 models" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "det_10g.onnx",
        "gfpgan_1.4.onnx",
        "inswapper_128.onnx",
        "manifest.json",
        "w600k_r50.onnx",
    ]
    session = ort.InferenceSession(
        str(tmp_path / "inswapper_128.onnx"), providers=["CPUExecutionProvider"]
    )
    target = np.full((1, 3, 128, 128), 0.25, np.float32)
    (out,) = session.run(None, {"target": target, "source": np.ones((1, 512), np.float32)})
    np.testing.assert_array_equal(out, target)
