"""NeuralEngine on synthetic graphs: alignment and paste-back are exact inverses, pixels
change only inside the face box, batching and call order do not change results."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from server.engines import load_engines
from server.engines.base import SwapResult
from server.engines.neural import NeuralEngine, NeuralOptions
from server.gif_templates.occluders import OCCLUDER
from server.render.pipeline import swap_frames
from server.types import Frame, IdentityData
from tests.engines.conftest import Template
from tests.engines.synthetic import loaded_store


def neural(models: Path, **options: Any) -> NeuralEngine:
    built = load_engines(None, loaded_store(models), NeuralOptions(**options))
    engine = built.engines["neural"]
    assert isinstance(engine, NeuralEngine)
    return engine


class Recording:
    """Wraps an engine and keeps what each ``swap`` returned."""

    def __init__(self, engine: NeuralEngine) -> None:
        self.engine, self.name = engine, engine.name
        self.results: list[SwapResult | None] = []

    def prepare_identity(self, identity: IdentityData) -> Any:
        return self.engine.prepare_identity(identity)

    def plan_track(self, *args: Any, **kw: Any) -> Any:
        return self.engine.plan_track(*args, **kw)

    def swap(self, *args: Any) -> SwapResult | None:
        self.results.append(self.engine.swap(*args))
        return self.results[-1]

    def describe(self) -> dict[str, Any]:
        return self.engine.describe()


def render(engine: NeuralEngine, frames: list[Frame], template: Template, identity: IdentityData):
    spy = Recording(engine)
    out = swap_frames(frames, template.analysis, {0: identity}, spy, lambda _: None, lambda: False)
    assert all(r is not None for r in spy.results) and len(spy.results) == len(frames)
    return out, [r for r in spy.results if r is not None]


def ramp_frames(n: int, size: int = 256) -> list[Frame]:
    """Linear in x and y (bilinear resampling reproduces it exactly), per-channel slopes."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    planes = [0.55 * xs + 0.35 * ys, 0.25 * xs + 0.6 * ys + 10, 0.7 * xs + 0.2 * ys + 5]
    frame = np.clip(np.stack(planes, -1), 0, 255).round().astype(np.uint8)
    return [frame.copy() for _ in range(n)]


def outside(diff: np.ndarray, r: SwapResult) -> np.ndarray:
    d = diff.copy()
    d[r.box.top : r.box.bottom, r.box.left : r.box.right] = 0
    return d


def test_alignment_and_paste_back_are_exact_inverses(
    astro: Template, identity_dir: Path, selfie_identity: IdentityData
) -> None:
    """Identity swapper, all options on, frames bilinear resampling reproduces: the
    face comes back within rounding; nothing outside the box moves."""
    frames = ramp_frames(len(astro.frames))
    out, results = render(neural(identity_dir), frames, astro, selfie_identity)
    for got, want, r in zip(out, frames, results, strict=True):
        diff = np.abs(got.astype(int) - want.astype(int))
        assert not outside(diff, r).any()
        inside = diff[r.box.top : r.box.bottom, r.box.left : r.box.right]
        assert inside.max() <= 1 and inside.mean() < 0.3  # the uint8 crop rounds
        assert r.mask.mean() > 0.5  # the face box is mostly pasted


def full_frame_reference(frame: Frame, m: np.ndarray, alpha128: np.ndarray) -> np.ndarray:
    """insightface's paste-back of an unchanged 128 crop, warped over the whole frame."""
    h, w = frame.shape[:2]
    crop = cv2.warpAffine(frame, m, (128, 128)).astype(np.float32)
    inverse = cv2.invertAffineTransform(m)
    face = cv2.warpAffine(crop, inverse, (w, h))
    alpha = cv2.warpAffine(alpha128, inverse, (w, h))[..., None]
    return alpha * face + (1 - alpha) * frame.astype(np.float32)


def without_occluders(template: Template) -> Template:
    """``template`` with no stored occluders (its hair is otherwise kept in front)."""
    tracks = [
        replace(t, extras={k: v for k, v in t.extras.items() if k != OCCLUDER})
        for t in template.analysis.tracks
    ]
    return Template(template.frames, replace(template.analysis, tracks=tracks))


def test_box_paste_equals_full_frame_paste_on_real_frames(
    astro: Template, identity_dir: Path, selfie_identity: IdentityData
) -> None:
    astro = without_occluders(astro)  # the reference pastes everything under the mask
    engine = neural(identity_dir, keep_mouth=False, colour_match=False)
    out, results = render(engine, astro.frames, astro, selfie_identity)
    for i, (got, frame, r) in enumerate(zip(out, astro.frames, results, strict=True)):
        m = engine.plan_track(None, astro.analysis.tracks[0].landmarks, astro.frames).matrices[i]
        expected = full_frame_reference(frame, m, engine.mask.alpha)
        assert np.abs(got - expected).max() <= 1.01
        # what remains is the resampling of a 128 px crop: small on average
        err = np.abs(got.astype(int) - frame.astype(int)).max(2)[
            r.box.top : r.box.bottom, r.box.left : r.box.right
        ]
        assert err[r.mask].mean() < 5.0 and not outside(np.abs(got.astype(int) - frame), r).any()


def test_mixing_swapper_changes_only_the_face_box(
    astro: Template, mixing_dir: Path, selfie_identity: IdentityData
) -> None:
    out, results = render(neural(mixing_dir), astro.frames, astro, selfie_identity)
    for got, frame, r in zip(out, astro.frames, results, strict=True):
        diff = np.abs(got.astype(int) - frame.astype(int)).max(2)
        assert not outside(diff, r).any()
        inside = diff[r.box.top : r.box.bottom, r.box.left : r.box.right]
        assert not inside[~r.mask].any()  # the mask reports every changed pixel
        assert inside[r.mask].mean() > 2.0


def test_keeping_the_mouth_only_changes_the_mouth(
    astro: Template, mixing_dir: Path, selfie_identity: IdentityData
) -> None:
    keep, _ = render(neural(mixing_dir, keep_mouth=True), astro.frames, astro, selfie_identity)
    swap, _ = render(neural(mixing_dir, keep_mouth=False), astro.frames, astro, selfie_identity)
    lm = astro.analysis.tracks[0].landmarks
    changed_any = False
    for i, (a, b) in enumerate(zip(keep, swap, strict=True)):
        ys, xs = np.nonzero(np.abs(a.astype(int) - b.astype(int)).max(2))
        lips = lm[i, 60:68]
        margin = 0.1 * float(np.ptp(lm[i, :, 1]))
        assert (xs >= lips[:, 0].min() - margin).all() and (xs <= lips[:, 0].max() + margin).all()
        assert (ys >= lips[:, 1].min() - margin).all() and (ys <= lips[:, 1].max() + margin).all()
        changed_any |= len(xs) > 0
    assert changed_any


def test_batching_does_not_change_the_result(
    astro: Template, batched_dir: Path, selfie_identity: IdentityData
) -> None:
    counts: dict[int, list[float]] = {}
    outputs = {}
    for batch in (1, 4):
        engine = neural(batched_dir, batch_size=batch)
        assert engine.swapper.batch == batch
        calls = counts.setdefault(batch, [])
        engine.clock = lambda stage, value, calls=calls: (
            calls.append(value) if stage == "model_faces" else None
        )
        outputs[batch], _ = render(engine, astro.frames, astro, selfie_identity)
    for a, b in zip(outputs[1], outputs[4], strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert sum(counts[1]) == sum(counts[4]) == len(astro.frames)  # each frame swapped once
    assert len(counts[4]) < len(counts[1])  # in fewer model calls


def test_call_order_does_not_change_the_result(
    astro: Template, mixing_dir: Path, selfie_identity: IdentityData
) -> None:
    engine = neural(mixing_dir)
    face = engine.prepare_identity(selfie_identity)
    lm = astro.analysis.tracks[0].landmarks
    results = {}
    for order in (range(6), reversed(range(6))):
        plan = engine.plan_track(face, lm, astro.frames)
        frames = [f.copy() for f in astro.frames]
        for i in order:
            engine.swap(frames[i], i, lm[i], face, plan)
        results[len(results)] = frames
    for a, b in zip(results[0], results[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_held_frames_are_not_swapped_ahead(
    astro: Template, mixing_dir: Path, selfie_identity: IdentityData
) -> None:
    engine = neural(mixing_dir)
    faces: list[float] = []
    engine.clock = lambda stage, value: faces.append(value) if stage == "model_faces" else None
    lm = astro.analysis.tracks[0].landmarks.copy()
    lm[3] = lm[2]  # frame 3 holds frame 2 (the pipeline copies such frames)
    face = engine.prepare_identity(selfie_identity)
    plan = engine.plan_track(face, lm, astro.frames)
    for i in (0, 1, 2, 4, 5):
        assert engine.swap(astro.frames[i].copy(), i, lm[i], face, plan) is not None
    assert sum(faces) == 5 and bool(plan.held[3]) and not plan.done[3]


def test_absent_faces_are_left_alone(
    astro: Template, mixing_dir: Path, selfie_identity: IdentityData
) -> None:
    engine = neural(mixing_dir)
    lm = astro.analysis.tracks[0].landmarks.copy()
    lm[1] = np.nan
    face = engine.prepare_identity(selfie_identity)
    plan = engine.plan_track(face, lm, astro.frames)
    frame = astro.frames[1].copy()
    assert engine.swap(frame, 1, lm[1], face, plan) is None
    np.testing.assert_array_equal(frame, astro.frames[1])


def test_enhancer_pass_stays_inside_the_swap_mask(
    astro: Template, mixing_dir: Path, selfie_identity: IdentityData
) -> None:
    store = loaded_store(mixing_dir)
    plain = load_engines(None, store).engines["neural"]
    base, _ = render(plain, astro.frames, astro, selfie_identity)  # type: ignore[arg-type]
    enhanced = {}
    for k in (0.0, 1.0):
        engine = load_engines(None, store, NeuralOptions(enhancer_blend=k), enhancer=True).engines[
            "neural"
        ]
        assert isinstance(engine, NeuralEngine) and engine.enhancer is not None
        assert [m["name"] for m in engine.describe()["models"]][-1] == "gfpgan_1.4"
        enhanced[k], results = render(engine, astro.frames, astro, selfie_identity)
        for got, frame, r in zip(enhanced[k], astro.frames, results, strict=True):
            diff = np.abs(got.astype(int) - frame.astype(int)).max(2)
            assert not outside(diff, r).any()
            assert not diff[r.box.top : r.box.bottom, r.box.left : r.box.right][~r.mask].any()
    for a, b in zip(enhanced[0.0], base, strict=True):  # blend 0: exactly the plain swap
        np.testing.assert_array_equal(a, b)
    assert (
        min(np.abs(a.astype(int) - b).mean() for a, b in zip(enhanced[1.0], base, strict=True))
        > 0.1
    )


def test_describe_names_the_models(mixing_dir: Path) -> None:
    info = neural(mixing_dir, keep_mouth=False).describe()
    assert info["engine"] == "neural" and isinstance(info["version"], int)
    assert [m["name"] for m in info["models"]] == ["inswapper_128", "w600k_r50"]
    for model in info["models"]:
        assert len(model["sha256"]) == 64 and model["provider"] == "CPUExecutionProvider"
        assert model["license"] == "synthetic"
    assert info["options"]["keep_mouth"] is False and info["batch"] == 1
    assert info["io_binding"] is False


def test_missing_embedding_is_computed_from_the_texture(
    mixing_dir: Path, selfie_identity: IdentityData
) -> None:
    from server.engines.neural_registry import build_face_models
    from server.faces.embedding import embedding_from_texture

    store = loaded_store(mixing_dir)
    engine = load_engines(None, store).engines["neural"]
    bare = replace(selfie_identity, embedding=None)
    expected = embedding_from_texture(bare, build_face_models(store))  # type: ignore[arg-type]
    face = engine.prepare_identity(bare)
    assert expected.embedding is not None
    np.testing.assert_allclose(face.latent, engine.swapper.latent(expected.embedding), atol=1e-6)  # type: ignore[attr-defined]


def test_identity_without_embedding_and_no_fallback_is_refused(
    mixing_dir: Path, selfie_identity: IdentityData
) -> None:
    engine = neural(mixing_dir)
    engine._embed_identity = None
    with pytest.raises(ValueError, match="embedding"):
        engine.prepare_identity(replace(selfie_identity, embedding=None))


def test_threaded_pipeline_gives_the_same_frames(
    astro: Template, batched_dir: Path, selfie_identity: IdentityData
) -> None:
    """The pipeline swaps frames on several threads; plans are shared between them."""
    outputs = []
    for threads in (1, 4):
        engine = neural(batched_dir, batch_size=2, colour_window=3)
        outputs.append(
            swap_frames(
                astro.frames, astro.analysis, {0: selfie_identity}, engine,
                lambda _: None, lambda: False, threads=threads,
            )
        )  # fmt: skip
    for a, b in zip(*outputs, strict=True):
        np.testing.assert_array_equal(a, b)
