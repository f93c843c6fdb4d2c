"""Making motion templates (offline, tools.templates): a clip's motion extracted with
dlib, or LivePortrait's motion imported; a preview rendered on a license-clean face.

Only the motion is kept: the clip's pixels never enter the library.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d

from server.faces.dlib_models import DlibFaceModels
from server.faces.portrait import head_and_shoulders
from server.gif_templates.analysis import TemplateAnalysis, analyse_animation
from server.gif_templates.catalog import (
    MANIFEST_NAME,
    PREVIEW_NAME,
    SOURCE_NAME,
    MotionTemplate,
    TemplateManifest,
    load_motion_template,
)
from server.gif_templates.clip_eyes import clip_gaze, clip_seen_shut
from server.gif_templates.library import prepare_source, write_preview
from server.gif_templates.media import read_animation
from server.gif_templates.motion import (
    ANCHORS,
    MOTION_NAME,
    MotionError,
    as_complex,
    face_frame,
    load_motion,
    save_motion,
)
from server.gif_templates.retarget import animate_portrait
from server.gif_templates.staging import staged_template
from server.storage.atomic import atomic_write_bytes
from server.types import Animation, Frame, Landmarks68, MotionData

MIN_COVERAGE = 0.5  # the face must be found in at least half the frames
POSE_SIGMA = 1.0  # frames; centred (looks ahead): offline
SHAPE_SIGMA = 0.6
PREVIEW_FACE_SOURCE = (
    "preview face: NASA photograph of astronaut Eileen Collins (scikit-image "
    "data.astronaut), public domain"
)


def extract_motion(analysis: TemplateAnalysis) -> MotionData:
    """The main face's motion relative to frame 0 (see :class:`MotionData`, "landmarks")."""
    track = analysis.main_track
    if track is None:
        raise MotionError("no face found in the clip")
    present = np.asarray(track.present, bool)
    if present.mean() < MIN_COVERAGE:
        raise MotionError(f"the face is seen in only {present.mean():.0%} of the frames")
    pts = fill_missing(np.asarray(track.landmarks, np.float64), present)
    shape, pose = relative_motion(pts)
    pose = gaussian_filter1d(pose, POSE_SIGMA, axis=0, mode="nearest")
    shape = gaussian_filter1d(shape, SHAPE_SIGMA, axis=0, mode="nearest")
    pose -= pose[0]
    motion = MotionData(
        "landmarks",
        tuple(int(d) for d in analysis.durations_ms),
        int(analysis.loop),
        shape=shape.astype(np.float32),
        pose=pose.astype(np.float32),
    )
    motion = replace(motion, seen_shut=clip_seen_shut(track, motion.frame_count))
    return replace(motion, gaze=clip_gaze(track, motion))


def fill_missing(pts: NDArray[np.float64], present: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Frames without the face take a linear blend of the nearest frames with it."""
    idx = np.flatnonzero(present)
    out = pts.copy()
    frames = np.arange(len(pts))
    flat = pts[idx].reshape(len(idx), -1)
    for k in range(flat.shape[1]):
        out.reshape(len(pts), -1)[:, k] = np.interp(frames, idx, flat[:, k])
    return out


def relative_motion(pts: NDArray[np.float64]) -> tuple[np.ndarray, np.ndarray]:
    """(shape (N, 68, 2), pose (N, 4)) in frame 0's face units, as MotionData stores."""
    origin, axis = face_frame(pts[0])
    w = (as_complex(pts) - origin) / axis
    centre = w[:, ANCHORS].mean(axis=1)
    ref = w[0, ANCHORS] - centre[0]
    moved = w[:, ANCHORS] - centre[:, None]
    b = (moved * ref.conj()).sum(axis=1) / (np.abs(ref) ** 2).sum()
    shape = (w - centre[:, None]) / b[:, None] + centre[0]
    shift = centre - centre[0]
    pose = np.stack([shift.real, shift.imag, np.log(np.abs(b)), np.unwrap(np.angle(b))], 1)
    return np.stack([shape.real, shape.imag], axis=-1), pose


def preview_face(models: DlibFaceModels) -> tuple[Frame, Landmarks68]:
    """The license-clean face previews are rendered on, as a portrait."""
    from skimage import data

    image = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    found = models.detect(image, use_cnn=False)
    if not found:
        raise MotionError("no face found on the preview picture")
    return head_and_shoulders(image, found[0].landmarks, max_side=320)


def render_preview(motion: MotionData, models: DlibFaceModels) -> Animation:
    """``motion`` played on the preview face (LivePortrait motion: head pose only)."""
    portrait, landmarks = preview_face(models)
    playable = motion if motion.format == "landmarks" else pose_only(motion, landmarks)
    frames = animate_portrait(portrait, landmarks, playable)
    return Animation(frames, list(motion.durations_ms), motion.loop)


def refresh_preview(folder: Path, models: DlibFaceModels) -> Animation:
    """Render the preview of the motion template in ``folder`` again with the current
    animator and replace its preview.gif (atomically); the motion is not touched."""
    preview = render_preview(load_motion(folder / MOTION_NAME), models)
    write_preview(preview, folder / PREVIEW_NAME)
    return preview


def pose_only(motion: MotionData, landmarks: Landmarks68) -> MotionData:
    """A landmark motion with LivePortrait's head roll, shift and scale, no expression
    (for previews only: the classic animator cannot read implicit keypoints)."""
    assert motion.rotation is not None and motion.translation is not None
    assert motion.scale is not None
    rel = motion.rotation @ motion.rotation[0].transpose()
    roll = np.arctan2(rel[:, 1, 0], rel[:, 0, 0])
    shift = (motion.translation[:, :2] - motion.translation[0, :2]) * 2.5
    log_scale = np.log(motion.scale / motion.scale[0])
    pose = np.stack([shift[:, 0], shift[:, 1], log_scale, roll], 1).astype(np.float32)
    origin, axis = face_frame(landmarks)
    rest = (as_complex(landmarks) - origin) / axis
    shape = np.repeat(np.stack([rest.real, rest.imag], -1)[None], motion.frame_count, 0)
    return MotionData("landmarks", motion.durations_ms, motion.loop, shape.astype(np.float32), pose)


def liveportrait_motion(arrays: dict[str, np.ndarray]) -> MotionData:
    """LivePortrait's motion template (as converted to npz: fps, scale, R, exp, t and
    maybe c_d_eyes, c_d_lip) as MotionData, "liveportrait" format."""
    try:
        n = int(arrays["R"].shape[0])
        fps = float(arrays["fps"])
        motion = MotionData(
            "liveportrait",
            tuple([max(1, round(1000.0 / fps))] * n),
            0,
            rotation=np.asarray(arrays["R"], np.float32),
            translation=np.asarray(arrays["t"], np.float32).reshape(n, 3),
            scale=np.asarray(arrays["scale"], np.float32).reshape(n),
            expression=np.asarray(arrays["exp"], np.float32).reshape(n, 21, 3),
            eyes=_optional(arrays, "c_d_eyes", (n, 2)),
            lip=_optional(arrays, "c_d_lip", (n, 1)),
        )
    except (KeyError, ValueError, ZeroDivisionError) as exc:
        raise MotionError(f"not a LivePortrait motion: {exc}") from exc
    return motion


def _optional(arrays: dict[str, np.ndarray], key: str, shape: tuple[int, int]) -> np.ndarray | None:
    return np.asarray(arrays[key], np.float32).reshape(shape) if key in arrays else None


def motion_from_clip(path: Path, models: DlibFaceModels) -> MotionData:
    """Extract the motion of the clip at ``path``; its pixels are decoded in a temporary
    folder that is deleted before this returns."""
    with tempfile.TemporaryDirectory(prefix="motion-") as scratch:
        source = Path(scratch) / SOURCE_NAME
        prepare_source(path, source)
        analysis = analyse_animation(read_animation(source), models)
    return extract_motion(analysis)


def add_motion_template(
    motion: MotionData,
    templates_dir: Path,
    manifest: TemplateManifest,
    models: DlibFaceModels,
    force: bool = False,
    notices: tuple[Path, ...] = (),
) -> MotionTemplate:
    """Store ``motion`` as motion template ``manifest.id`` (motion.npz, preview.gif,
    manifest.json, and a copy of each ``notices`` file: licence texts that must travel
    with the motion), built in a staging folder and then moved into place."""
    with staged_template(templates_dir, manifest.id, force) as staging:
        save_motion(motion, staging / MOTION_NAME)
        for notice in notices:
            if notice.name in (MOTION_NAME, PREVIEW_NAME, MANIFEST_NAME):
                raise MotionError(f"a notice cannot be named {notice.name}")
            shutil.copyfile(notice, staging / notice.name)
        preview = render_preview(motion, models)
        write_preview(preview, staging / PREVIEW_NAME)
        width, height = preview.size
        final = manifest.model_copy(update={"kind": "motion"}).with_motion(motion, width, height)
        text = final.model_dump_json(indent=2) + "\n"
        atomic_write_bytes(staging / MANIFEST_NAME, text.encode("utf-8"))
    return load_motion_template(templates_dir / manifest.id, final)


def read_liveportrait_npz(path: Path) -> MotionData:
    """A LivePortrait motion npz (numpy arrays only; pickles are refused)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError) as exc:
        raise MotionError(f"{path.name}: {exc}") from exc
    return liveportrait_motion(arrays)
