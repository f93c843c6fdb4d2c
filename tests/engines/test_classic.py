"""The classic engine on a real analysed template (a puppet clip of a package face) and
a real identity: it changes pixels only where it says, leaves faceless frames alone,
and the pipeline holds its face on repeated frames."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from server.engines import build_engines, classic
from server.engines.base import SwapResult
from server.engines.classic import ClassicEngine, ClassicOptions
from server.faces.identity import aligned_texture, build_identity
from server.gif_templates.catalog import Template
from server.gif_templates.library import load_template_from_path
from server.gif_templates.media import write_gif
from server.gif_templates.puppet import Expression, FacePuppet, HeadPose
from server.render.pipeline import swap_frames
from server.types import Animation, Frame, IdentityData
from server.vision import eye_state, gaze
from server.vision.shape import eye_openness
from tests.render.samples import astronaut, dlib_models, puppet_clip, t1_face

FACE_FRAMES = 10
HELD = FACE_FRAMES  # a copy of the frame before it
CARDS = (FACE_FRAMES + 1, FACE_FRAMES + 2)  # no face at all


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """Ten frames of the astronaut talking, one held frame, two plain title cards."""
    clip = puppet_clip(astronaut(), side=240, frames=FACE_FRAMES)
    frames = [*clip.frames, clip.frames[-1].copy()]
    card = np.zeros_like(frames[0])
    card[:] = (40, 90, 160)
    card[100:140, 40:200] = (230, 230, 230)
    frames += [card, card.copy()]
    tmp = tmp_path_factory.mktemp("classic")
    write_gif(Animation(frames, [80] * len(frames), 0), tmp / "clip.gif")
    return load_template_from_path(tmp / "clip.gif", dlib_models(), tmp / "template")


@pytest.fixture(scope="module")
def identity() -> IdentityData:
    return build_identity([t1_face("david")], dlib_models())


class Recording:
    """The real engine, with every SwapResult kept."""

    def __init__(self, engine: ClassicEngine) -> None:
        self.engine = engine
        self.name = engine.name
        self.results: dict[int, list[SwapResult]] = {}

    def prepare_identity(self, identity: IdentityData) -> Any:
        return self.engine.prepare_identity(identity)

    def plan_track(
        self, face: Any, landmarks: np.ndarray, frames: Sequence[Frame], **kw: Any
    ) -> Any:
        return self.engine.plan_track(face, landmarks, frames, **kw)

    def swap(self, frame: Frame, index: int, lm: np.ndarray, face: Any, plan: Any) -> Any:
        result = self.engine.swap(frame, index, lm, face, plan)
        if result is not None:
            self.results.setdefault(index, []).append(result)
        return result

    def describe(self) -> dict[str, Any]:
        return self.engine.describe()


def test_the_template_is_what_the_tests_assume(template: Template) -> None:
    analysis = template.analysis
    assert len(analysis.tracks) == 1
    present = analysis.tracks[0].present
    assert present[: HELD + 1].all() and not present[list(CARDS)].any()
    assert analysis.repeats is not None and analysis.repeats[HELD]
    assert analysis.repeats.sum() == 2  # the held frame and the second card


def test_classic_changes_only_the_pixels_it_reports(
    template: Template, identity: IdentityData
) -> None:
    engine = Recording(build_engines(dlib_models())["classic"])  # type: ignore[arg-type]
    frames = template.animation().frames
    faces = {0: identity}
    out = swap_frames(frames, template.analysis, faces, engine, lambda _: None, lambda: False)
    assert sorted(engine.results) == list(range(FACE_FRAMES))  # held frame and cards skipped
    for i in range(FACE_FRAMES):
        allowed = np.zeros(frames[i].shape[:2], bool)
        for r in engine.results[i]:
            allowed[r.box.top : r.box.bottom, r.box.left : r.box.right] |= r.mask
        changed = (out[i] != frames[i]).any(2)
        assert not (changed & ~allowed).any(), f"frame {i}: pixels changed outside the result"
        assert changed.sum() > 0.5 * allowed.sum()  # and the face really is replaced
        face = np.abs(out[i].astype(int) - frames[i])[allowed].mean()
        assert face > 10
    held = (out[HELD - 1] != frames[HELD - 1]).any(2)
    np.testing.assert_array_equal(out[HELD][held], out[HELD - 1][held])
    for i in CARDS:
        np.testing.assert_array_equal(out[i], frames[i])


def test_swap_leaves_a_frame_without_the_face_alone(
    template: Template, identity: IdentityData
) -> None:
    engine = ClassicEngine()
    frames = template.animation().frames
    track = template.analysis.tracks[0]
    face = engine.prepare_identity(identity)
    plan = engine.plan_track(face, track.landmarks, frames)
    card = frames[CARDS[0]].copy()
    assert engine.swap(card, CARDS[0], track.landmarks[CARDS[0]], face, plan) is None
    np.testing.assert_array_equal(card, frames[CARDS[0]])
    assert engine.describe()["engine"] == "classic" and "version" in engine.describe()


def test_prepared_identity_is_a_feathered_mask_over_the_texture(identity: IdentityData) -> None:
    face = ClassicEngine().prepare_identity(identity)
    assert face.texture_lab.shape[:2] == face.alpha.shape == identity.texture.shape[:2]
    assert face.alpha.min() >= 0.0 and face.alpha.max() <= 1.0
    assert face.alpha[0].max() == 0 and face.alpha[:, 0].max() == 0  # nothing at the edges
    nose = np.round(identity.landmarks[30]).astype(int)
    assert face.alpha[nose[1], nose[0]] > 0.99
    soft = (face.alpha > 0.05) & (face.alpha < 0.95)
    assert soft.sum() > 0.05 * (face.alpha > 0.05).sum()  # a feathered edge, not a cut
    assert np.isfinite(face.stats).all()


def test_stored_template_features_are_what_the_engine_would_compute(
    template: Template, identity: IdentityData
) -> None:
    """The analysis stores per-frame colour statistics and detail of each face; the
    engine's plan from them equals its plan from the frames themselves."""
    from server.gif_templates.features import COLOUR_STATS, DETAIL, track_features

    track = template.analysis.tracks[0]
    frames = template.animation().frames
    stored = track_features(track)
    assert {COLOUR_STATS, DETAIL} <= set(stored)
    present = track.present
    assert np.isfinite(stored[COLOUR_STATS][present]).all()
    assert np.isnan(stored[DETAIL][~present]).all() and (stored[DETAIL][present] > 0).all()
    engine = ClassicEngine()
    face = engine.prepare_identity(identity)
    with_features = engine.plan_track(face, track.landmarks, frames, features=stored)
    computed = engine.plan_track(face, track.landmarks, frames)
    np.testing.assert_allclose(with_features.colour, computed.colour, rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(with_features.blur, computed.blur, atol=1e-5)
    assert with_features.seams is not None and computed.seams is not None
    np.testing.assert_allclose(with_features.seams, computed.seams, atol=1e-4)
    assert (computed.seams[present][:, :, 3].sum(axis=1) > 0).all()  # skin at every face
    assert with_features.light is not None and computed.light is not None
    np.testing.assert_allclose(with_features.light, computed.light, rtol=1e-5, equal_nan=True)
    assert np.isfinite(computed.light[present]).all()
    np.testing.assert_array_equal(with_features.eyes_open, computed.eyes_open)
    assert (with_features.gaze is None) == (computed.gaze is None)
    if computed.gaze is not None and with_features.gaze is not None:
        np.testing.assert_array_equal(with_features.gaze.shifts, computed.gaze.shifts)


def test_the_template_eyes_are_read_once_with_the_analysis(
    template: Template, identity: IdentityData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template's iris places and the eyes its picture shows shut are stored with
    the analysis and used as stored: the renders read neither from the frames again."""
    from server.gif_templates.features import IRIS, SEEN_SHUT, track_features
    from server.vision import eye_state, gaze

    track = template.analysis.tracks[0]
    frames = template.animation().frames
    features = track_features(track)
    assert {IRIS, SEEN_SHUT} <= set(features)
    assert features[IRIS].shape == features[SEEN_SHUT].shape == (len(frames), 2)
    assert np.isfinite(features[IRIS][track.present]).any()  # the astronaut's irises read
    features[SEEN_SHUT] = np.zeros_like(features[SEEN_SHUT])
    features[SEEN_SHUT][1, 0] = 1.0  # marked: her image-left eye shut in frame 1

    def unwanted(*_: object) -> None:
        raise AssertionError("read again from the frames")

    monkeypatch.setattr(gaze, "frame_reads", unwanted)
    monkeypatch.setattr(eye_state, "track_seen_shut", unwanted)
    engine = ClassicEngine()
    plan = engine.plan_track(
        engine.prepare_identity(identity), track.landmarks, frames, features=features
    )
    assert plan.eyes_open is not None
    assert plan.eyes_open[1, 0] == 0.0 and plan.eyes_open[1, 1] > 0.5


def test_a_side_lit_template_does_not_raise_the_selfie_contrast(
    template: Template, identity: IdentityData
) -> None:
    """The transfer's lightness gain compares the two faces without their light: the
    shading layer brings the template's light, and counted in the gain as well, a
    side-lit clip would deepen every selfie's features and shadows."""
    from tests.vision.test_unlit_spread import side_lit

    track = template.analysis.tracks[0]
    frames = template.animation().frames
    lit = [
        side_lit(f, lm) if not np.isnan(lm[0, 0]) else f
        for f, lm in zip(frames, track.landmarks, strict=True)
    ]
    engine = ClassicEngine()
    face = engine.prepare_identity(identity)
    plans = [engine.plan_track(face, track.landmarks, f) for f in (frames, lit)]
    present = track.present
    spread = [float(np.median(p.colour[present, 1, 0])) for p in plans]
    gain = [float(np.median(p.light[present])) for p in plans if p.light is not None]
    assert spread[1] > 1.25 * spread[0]  # the lit clip's skin spreads much further ...
    assert 0.7 * gain[0] <= gain[1] <= 1.05 * gain[0]  # ... its gain does not grow


def test_the_engine_takes_the_stored_seams_for_its_own_colour_window(
    template: Template, identity: IdentityData
) -> None:
    """The seams' template side is read from the analysis, not measured again per
    render; an engine averaging colours over another window measures its own."""
    from server.gif_templates.features import SEAM_EDGES, SEAM_WINDOW, track_features

    track = template.analysis.tracks[0]
    frames = template.animation().frames
    features = track_features(track)
    marked = np.full_like(features[SEAM_EDGES], 7.0)
    features[SEAM_EDGES] = marked
    for window, uses_stored in ((SEAM_WINDOW, True), (SEAM_WINDOW + 2, False)):
        engine = ClassicEngine(ClassicOptions(colour_window=window))
        face = engine.prepare_identity(identity)
        plan = engine.plan_track(face, track.landmarks, frames, features=features)
        assert plan.seams is not None
        assert np.array_equal(plan.seams, marked) == uses_stored


def _blinking_template(tmp: Path, side: int = 240) -> Template:
    """Eight frames of the astronaut; she closes both eyes in frames 4 and 5."""
    still = puppet_clip(astronaut(), side=side, frames=1).frames[0]
    puppet = FacePuppet(still, dlib_models().detect(still, use_cnn=False)[0].landmarks)
    frames = []
    for i in range(8):
        blink = 1.0 if i in (4, 5) else 0.0
        frame, _ = puppet.render(Expression(blink=blink), HeadPose(dx=0.02 * i))
        frames.append(frame)
    write_gif(Animation(frames, [80] * len(frames), 0), tmp / "blink.gif")
    return load_template_from_path(tmp / "blink.gif", dlib_models(), tmp / "blink")


@pytest.mark.parametrize("follow", [True, False])
def test_the_new_face_blinks_with_the_template(tmp_path: Path, follow: bool) -> None:
    """Measured on the output by dlib: with ``follow_blinks`` the swapped face's eyes
    close where the template's do; without it they stay well open (the test's own
    control: the measure can tell the two apart). The selfie is the astronaut's
    photo itself, whose wide-open eyes are what a blink must close."""
    template = _blinking_template(tmp_path)
    identity = build_identity([astronaut()], dlib_models())
    track = template.analysis.tracks[0]
    assert track.present.all()
    frames = template.animation().frames
    engine = ClassicEngine(ClassicOptions(follow_blinks=follow))
    out = swap_frames(
        frames, template.analysis, {0: identity}, engine, lambda _: None, lambda: False
    )

    def opening(frame: Frame) -> float:
        return eye_openness(dlib_models().detect(frame, use_cnn=False)[0].landmarks)

    open_ = np.median([opening(out[i]) for i in (0, 1, 2, 7)])
    closed = np.mean([opening(out[i]) for i in (4, 5)])
    template_ratio = np.mean([opening(frames[i]) for i in (4, 5)]) / np.median(
        [opening(frames[i]) for i in (0, 1, 2, 7)]
    )
    assert template_ratio < 0.6  # the template really blinks
    if follow:
        assert closed < 0.6 * open_
    else:
        assert closed > 0.6 * open_


@pytest.mark.parametrize("paint", [True, False])
def test_a_shut_template_eye_gets_a_lid_not_a_squeezed_eye(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paint: bool
) -> None:
    """Where dlib reads the template's eyes fully shut (as on the devkit's blinks;
    the puppet's shut eyes read about a third open), the selfie's open eye, squeezed
    shut by the warp, would show its dark iris and bright glints in a slit: a lid is
    painted over it. Read from the output's picture (dlib's landmarks, the eyes'
    edge ratio, as selfie coaching reads shut eyes); the control (``paint_lids`` off)
    shows the slit."""
    template = _blinking_template(tmp_path)
    read = classic.track_eye_openness

    def shut_in_4_and_5(*args: Any) -> np.ndarray:
        openness = read(*args)
        openness[[4, 5]] = 0.0
        return openness

    monkeypatch.setattr(classic, "track_eye_openness", shut_in_4_and_5)
    track = template.analysis.tracks[0]
    out = _astronaut_on(template, ClassicOptions(paint_lids=paint))
    for i in (4, 5):
        edges, darkest = _lids_read(out[i], track.landmarks[i])
        if paint:
            assert edges < eye_state.SHUT and darkest > 75
        else:
            assert edges > eye_state.SHUT and darkest < 75


def _astronaut_on(template: Template, options: ClassicOptions) -> list[Frame]:
    """The astronaut's photo swapped onto ``template``'s face by the classic engine."""
    identity = build_identity([astronaut()], dlib_models())
    return swap_frames(
        template.animation().frames, template.analysis, {0: identity},
        ClassicEngine(options), lambda _: None, lambda: False,
    )  # fmt: skip


def _lids_read(frame: Frame, template_lm: np.ndarray) -> tuple[float, float]:
    """How shut an output frame's eyes read: the eyes' mean edge ratio (dlib's landmarks
    of the output), and the lighter of the two eyes' darkest tenth inside the
    template's eye outline (the iris, or the lid's lash line)."""
    found = dlib_models().detect(frame, use_cnn=False)[0]
    edges = float(np.mean(eye_state.edge_ratio(*aligned_texture(frame, found.landmarks))))
    grey = frame.astype(np.float64).mean(axis=2)
    darkest = []
    for eye in (slice(36, 42), slice(42, 48)):
        pts = np.round(template_lm[eye]).astype(np.int32)
        mask = cv2.fillPoly(np.zeros(grey.shape, np.uint8), [pts], 1)
        darkest.append(np.percentile(grey[cv2.dilate(mask, np.ones((3, 3), np.uint8)) > 0], 10))
    return edges, float(min(darkest))


@pytest.mark.parametrize("seen", [True, False])
def test_eyes_the_picture_shows_shut_get_lids_where_dlib_reads_them_open(
    tmp_path: Path, seen: bool
) -> None:
    """dlib reads the puppet's shut eyes about a third open (and d3's winks wide open);
    the picture shows them shut (server.vision.eye_state.track_seen_shut), so the
    swapped eyes get their lids. The control (``seen_blinks`` off) keeps dlib's read
    alone: the selfie's eye squeezed into a slit, its iris showing."""
    template = _blinking_template(tmp_path)
    track = template.analysis.tracks[0]
    out = _astronaut_on(template, ClassicOptions(seen_blinks=seen))
    for i in (4, 5):
        edges, darkest = _lids_read(out[i], track.landmarks[i])
        if seen:
            assert edges < eye_state.SHUT and darkest > 75
        else:
            assert darkest < 75


def test_the_selfie_eyes_are_wholly_inside_the_face_mask(identity: IdentityData) -> None:
    """Iris and lashes are far in colour from skin, but the skin-only edge must not fade
    them (the template's eyes would show through)."""
    face = ClassicEngine().prepare_identity(identity)
    lm = identity.landmarks
    for eye in (slice(36, 42), slice(42, 48)):
        for x, y in np.round(lm[eye]).astype(int):
            assert face.alpha[y, x] > 0.9
        cx, cy = np.round(lm[eye].mean(0)).astype(int)
        assert face.alpha[cy - 2 : cy + 3, cx - 2 : cx + 3].min() > 0.95


@pytest.mark.parametrize("follow", [True, False])
@pytest.mark.parametrize("wanted", [0.25, 0.75])
def test_the_swapped_irises_look_where_the_template_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, follow: bool, wanted: float
) -> None:
    """Where the template's irises sit across its eyes (its gaze, read from the
    picture; here given) the swapped face's sit too, read back from the output with
    dlib's landmarks of the output; the control (``follow_gaze`` off) keeps the
    selfie's own gaze, which looks ahead. On eyes about 25 px wide (narrower ones
    keep their irises: ``gaze.SMALLEST_EYE``). Read back: 0.26-0.30 for 0.25 and
    0.64-0.71 for 0.75 (the image-left eye falls short of the outer corner; it read
    0.65 before the nose's shadow step paired the flanks by the landmarks, 0.64 after,
    the eye itself untouched); the control 0.42-0.54."""
    template = _blinking_template(tmp_path, side=360)
    monkeypatch.setattr(gaze, "track_gaze", lambda reads, *_: np.full((len(reads), 2), wanted))
    out = _astronaut_on(template, ClassicOptions(follow_gaze=follow))
    for i in (0, 7):
        found = dlib_models().detect(out[i], use_cnn=False)[0].landmarks
        light = cv2.cvtColor(out[i], cv2.COLOR_BGR2GRAY).astype(np.float32)
        across = [
            gaze.read_iris(light, found[eye]).across for eye in (slice(36, 42), slice(42, 48))
        ]
        misses = np.abs(np.array(across) - wanted)
        if follow:
            assert misses.max() < 0.12, across
        else:
            assert misses.min() > 0.15, across
