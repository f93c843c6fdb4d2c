"""The swapper wrapper against insightface's INSwapper on the same graphs: latent,
alignment, crop and model output; batching; the IO-binding runner."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from insightface.app.common import Face
from insightface.model_zoo.inswapper import INSwapper
from insightface.utils import face_align

from server.engines.neural_geometry import align_matrix, crop
from server.engines.neural_models import Swapper, batch_capacity, latent_from_embedding
from server.runtime import read_emap, runner_for
from server.runtime.binding import SessionRunner, binding_device
from server.runtime.providers import CPU, CUDA, TENSORRT
from server.types import Frame
from tests.engines.synthetic import loaded_store
from tests.runtime.fakes import ClaimingSession

ARCFACE_128 = np.array(
    [[46.2946, 51.6963], [81.5318, 51.5014], [64.0252, 71.7366], [49.5493, 92.3655],
     [78.7299, 92.2041]]
)  # fmt: skip


def insightface_swapper(models: Path, store: Any) -> INSwapper:
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the input shape
        return INSwapper(
            model_file=str(models / "inswapper_128.onnx"),
            session=store.get_session("inswapper_128"),
        )


def unit(seed: int, n: int = 512) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    return v / np.linalg.norm(v)


def test_latent_equals_insightface(mixing_dir: Path) -> None:
    store = loaded_store(mixing_dir)
    reference = insightface_swapper(mixing_dir, store)
    raw = unit(3) * 23.5  # a raw (unnormalised) ArcFace embedding
    face = Face(embedding=raw)
    expected = np.dot(face.normed_embedding.reshape(1, -1), reference.emap)
    expected /= np.linalg.norm(expected)
    ours = latent_from_embedding(raw, read_emap(mixing_dir / "inswapper_128.onnx"))
    assert ours.shape == (1, 512) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)
    assert abs(float(np.linalg.norm(ours)) - 1.0) < 1e-6
    # the emap matters: a different one gives a different latent
    assert np.abs(latent_from_embedding(raw, np.eye(512, dtype=np.float32)) - ours).max() > 0.01


def test_alignment_crop_and_swap_equal_insightface(mixing_dir: Path, face_bgr: Frame) -> None:
    store = loaded_store(mixing_dir)
    reference = insightface_swapper(mixing_dir, store)
    kps = np.array([[200, 180], [280, 178], [240, 230], [210, 270], [270, 268]], np.float32)
    raw = unit(5) * 17.0
    with warnings.catch_warnings():  # scikit-image deprecation inside insightface
        warnings.simplefilter("ignore", FutureWarning)
        theirs, m_ref = reference.get(
            face_bgr, Face(kps=kps), Face(embedding=raw), paste_back=False
        )
        their_crop, _ = face_align.norm_crop2(face_bgr, kps, 128)
    m = align_matrix(kps, ARCFACE_128)
    np.testing.assert_allclose(m, m_ref, atol=1e-4)  # insightface works in float32
    our_crop = crop(face_bgr, m, 128)
    off = np.abs(our_crop.astype(int) - their_crop.astype(int))
    assert off.max() <= 1 and (off > 0).mean() < 0.05  # float32 vs float64 matrix
    swapper = Swapper(store.get_session("inswapper_128"), reference.emap)
    ours = swapper.run(their_crop[None], swapper.latent(raw))[0]
    # same crop, same latent: insightface truncates 255 * x to uint8, ours keeps the float
    diff = ours - theirs.astype(np.float32)
    assert diff.min() >= -1e-3 and diff.max() < 1.0
    assert np.abs(theirs.astype(np.float32) - their_crop).mean() > 1.0  # the graph mixed


def test_batch_capacity_follows_the_graph(mixing_dir: Path, batched_dir: Path) -> None:
    fixed = loaded_store(mixing_dir).get_session("inswapper_128")
    symbolic = loaded_store(batched_dir).get_session("inswapper_128")
    assert batch_capacity(fixed, 8) == 1
    assert batch_capacity(symbolic, 8) == 8 and batch_capacity(symbolic, 3) == 3


def test_batched_run_equals_one_by_one(batched_dir: Path, face_bgr: Frame) -> None:
    store = loaded_store(batched_dir)
    emap = read_emap(batched_dir / "inswapper_128.onnx")
    batched = Swapper(store.get_session("inswapper_128"), emap, batch_size=4)
    single = Swapper(store.get_session("inswapper_128"), emap, batch_size=1)
    calls: list[int] = []
    run = batched.runner.run
    batched.runner.run = lambda feeds: calls.append(len(feeds["target"])) or run(feeds)  # type: ignore[method-assign]
    crops = np.stack(
        [
            face_bgr[y : y + 128, x : x + 128]
            for y, x in [(0, 0), (50, 60), (200, 210), (300, 40), (90, 300), (10, 380)]
        ]
    )
    latent = batched.latent(unit(9))
    together, alone = batched.run(crops, latent), single.run(crops, latent)
    assert calls == [4, 2]
    np.testing.assert_allclose(together, alone, atol=1e-4)
    assert np.abs(together - crops).max() > 1.0


def test_runner_binds_on_gpu_providers_only(mixing_dir: Path) -> None:
    session = loaded_store(mixing_dir).get_session("det_10g")
    assert binding_device([CUDA, CPU]) == "cuda" and binding_device([TENSORRT, CUDA, CPU]) == "cuda"
    assert binding_device([CPU]) is None and binding_device([]) is None
    assert not runner_for(session).uses_binding
    claimed = runner_for(ClaimingSession(session, [CUDA, CPU]))
    assert claimed.uses_binding and claimed.device == "cuda"
    assert not runner_for(ClaimingSession(session, [CUDA, CPU]), use_binding=False).uses_binding


def test_io_binding_path_gives_the_same_outputs(mixing_dir: Path) -> None:
    """The IO-binding code path, run on the CPU device (the only one here)."""
    session = loaded_store(mixing_dir).get_session("inswapper_128")
    rng = np.random.default_rng(4)
    feeds = {
        "target": rng.uniform(0, 1, (1, 3, 128, 128)).astype(np.float32),
        "source": unit(4).reshape(1, 512),
    }
    plain = SessionRunner(session).run(feeds)
    bound = SessionRunner(session, device="cpu").run(feeds)
    assert len(plain) == len(bound) == 1
    np.testing.assert_array_equal(plain[0], bound[0])


def test_swapper_refuses_a_wrong_emap(mixing_dir: Path) -> None:
    session = loaded_store(mixing_dir).get_session("inswapper_128")
    with pytest.raises(ValueError, match="emap"):
        Swapper(session, np.zeros((512, 256), np.float32))
