"""Measure motion renders with an independent check: dlib on the OUTPUT frames (never
the animator's own points) against the selfie and the clip's motion.

    python -m tools.motion_quality --selfies DIR --clips DIR [--engine classic]
        [--sheets DIR] [--json OUT.json]

For every selfie x clip: the clip's motion is extracted as ``tools.templates add
--kind motion`` does, the selfie becomes an identity as at upload, and the classic (or
another motion) engine animates its portrait. Per pair:

- ``id_ok``: share of output frames whose dlib descriptor is within 0.6 of the selfie's
  (bar: >= 0.9; a frame where dlib finds no face counts as a miss);
- ``r_disp``: Pearson r between the clip's and the output's landmark displacements from
  frame 0, each in its own frame 0's eye frame (origin between the eyes, unit and axis
  the eye vector; bar >= 0.8);
- ``r_mouth``: Pearson r of the inner-lip opening (in IOD) over the frames (bar >= 0.6);
- ``border``: mean absolute grey change of the outer 8 % border from the first frame,
  averaged over the frames (bar <= 3 grey levels); ``border_max``: the worst frame;
- ``blink_ear``: on the frames where the clip blinks (an eye at least 0.8 shut by
  :func:`~server.gif_templates.retarget.blinks`), the output's eye aspect ratio (dlib)
  of that eye over its ratio in the output's frame 0; 1 = the eye stays open, about
  0.5 or less reads as shut (NaN when the clip does not blink);
- ``blink_edges``: on the same (frame, eye) pairs, the output eye's edge ratio read from
  the picture (:func:`server.vision.eye_state.edge_ratio`, on the face aligned by
  dlib's points of the output): dlib keeps a lid gap on shut eyes, the picture does not.
  Open eyes read about 0.4-1.6; below :data:`~server.vision.eye_state.SHUT` reads as shut.
  ``open_edges``: the same on the output's frame 0 (both eyes), the control: a blink
  counts as read only where the eyes read open there.

``--sheets`` writes one contact sheet per clip (a row per selfie, six frames) to look at.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from server.faces.dlib_models import DlibFaceModels, descriptor_distance
from server.faces.identity import FaceError, aligned_texture, build_identity
from server.gif_templates.analysis import analyse_animation
from server.gif_templates.media import read_animation
from server.gif_templates.motion_authoring import extract_motion
from server.gif_templates.retarget import blinks
from server.types import Frame, IdentityData, Landmarks68, MotionData
from server.vision import eye_state
from tools.artefacts import gaze_correlation, gaze_place
from tools.motion_quality_table import table

BORDER = 0.08
SELFIE_TYPES = (".jpg", ".jpeg", ".png")
SAME_PERSON = 0.6


def eye_frame_displacements(landmarks: Sequence[Landmarks68 | None]) -> np.ndarray:
    """(N, 68, 2) displacements from frame 0 in frame 0's eye frame (NaN where absent)."""
    first = landmarks[0]
    out = np.full((len(landmarks), 68, 2), np.nan)
    if first is None:
        return out
    pts0 = np.asarray(first, np.float64)
    z0 = pts0[:, 0] + 1j * pts0[:, 1]
    centre = (z0[36:42].mean() + z0[42:48].mean()) / 2
    axis = z0[42:48].mean() - z0[36:42].mean()
    for i, pts in enumerate(landmarks):
        if pts is not None:
            p = np.asarray(pts, np.float64)
            w = ((p[:, 0] + 1j * p[:, 1]) - centre) / axis - (z0 - centre) / axis
            out[i] = np.stack([w.real, w.imag], -1)
    return out


def mouth_opening(landmarks: Sequence[Landmarks68 | None]) -> np.ndarray:
    """Inner-lip gap over the inter-ocular distance, per frame (NaN where absent)."""
    out = np.full(len(landmarks), np.nan)
    for i, pts in enumerate(landmarks):
        if pts is not None:
            p = np.asarray(pts, np.float64)
            iod = np.linalg.norm(p[42:48].mean(0) - p[36:42].mean(0))
            out[i] = np.linalg.norm(p[[66, 65, 67]] - p[[62, 63, 61]], axis=1).mean() / iod
    return out


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """r over the entries both have (NaN when too few or constant)."""
    x, y = np.ravel(a), np.ravel(b)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def border_motion(frames: Sequence[Frame]) -> tuple[float, float]:
    """(mean over frames, worst frame) of the outer border's mean absolute grey change."""
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.float64) for f in frames]
    h, w = grey[0].shape
    b = max(1, int(BORDER * min(h, w)))
    edge = np.ones((h, w), bool)
    edge[b:-b, b:-b] = False
    changes = [float(np.abs(g - grey[0])[edge].mean()) for g in grey]
    return float(np.mean(changes)), float(np.max(changes))


def output_landmarks(
    models: DlibFaceModels, frames: Sequence[Frame]
) -> tuple[list[Landmarks68 | None], list[np.ndarray | None]]:
    """dlib's landmarks and descriptor of the largest face of each output frame."""
    marks: list[Landmarks68 | None] = []
    descs: list[np.ndarray | None] = []
    for frame in frames:
        faces = models.detect(frame, use_cnn=False)
        if not faces:
            marks.append(None)
            descs.append(None)
            continue
        face = max(faces, key=lambda f: f.box.area)
        marks.append(face.landmarks)
        descs.append(models.descriptor(frame, face.landmarks))
    return marks, descs


def eye_aspect(landmarks: Landmarks68) -> np.ndarray:
    """Eye aspect ratio (lid gaps over eye width) of the image-left and -right eye."""
    p = np.asarray(landmarks, np.float64)
    out = []
    for a in (36, 42):
        q = p[a : a + 6]
        lids = np.linalg.norm(q[1] - q[5]) + np.linalg.norm(q[2] - q[4])
        out.append(lids / (2 * max(float(np.linalg.norm(q[0] - q[3])), 1e-6)))
    return np.array(out)


def blink_ear(marks: Sequence[Landmarks68 | None], shut: np.ndarray) -> float:
    """Mean output EAR over frame 0's, on the (frame, eye) pairs with ``shut`` >= 0.8."""
    if marks[0] is None:
        return float("nan")
    base = eye_aspect(marks[0])
    ratios = [
        eye_aspect(m)[eye] / max(base[eye], 1e-6)
        for m, row in zip(marks, shut, strict=True)
        if m is not None
        for eye in (0, 1)
        if row[eye] >= 0.8
    ]
    return float(np.mean(ratios)) if ratios else float("nan")


def blink_edges(
    frames: Sequence[Frame], marks: Sequence[Landmarks68 | None], shut: np.ndarray
) -> float:
    """Mean output eye edge ratio on the (frame, eye) pairs with ``shut`` >= 0.8."""
    ratios = []
    for frame, m, row in zip(frames, marks, shut, strict=True):
        if m is None or max(row) < 0.8:
            continue
        texture, lm = aligned_texture(frame, m)
        each = eye_state.edge_ratio(texture, lm)
        ratios += [each[eye] for eye in (0, 1) if row[eye] >= 0.8]
    return float(np.mean(ratios)) if ratios else float("nan")


def score_pair(
    models: DlibFaceModels,
    selfie_desc: np.ndarray,
    clip_marks: Sequence[Landmarks68 | None],
    frames: Sequence[Frame],
    shut: np.ndarray | None = None,
    clip_gaze: Sequence[float] | None = None,
) -> dict[str, float]:
    marks, descs = output_landmarks(models, frames)
    ok = [d is not None and descriptor_distance(d, selfie_desc) < SAME_PERSON for d in descs]
    dists = [descriptor_distance(d, selfie_desc) for d in descs if d is not None]
    border, worst = border_motion(frames)
    return {
        "id_ok": float(np.mean(ok)),
        "id_dist_median": float(np.median(dists)) if dists else float("nan"),
        "r_disp": pearson(eye_frame_displacements(clip_marks), eye_frame_displacements(marks)),
        "r_mouth": pearson(mouth_opening(clip_marks), mouth_opening(marks)),
        "border": border,
        "border_max": worst,
        "lost_frames": float(sum(m is None for m in marks)),
        "blink_ear": blink_ear(marks, shut) if shut is not None else float("nan"),
        "blink_edges": blink_edges(frames, marks, shut) if shut is not None else float("nan"),
        "open_edges": blink_edges(frames[:1], marks[:1], np.ones((1, 2))),
        "gaze_r": gaze_r(clip_gaze, frames, marks) if clip_gaze is not None else float("nan"),
    }


def gaze_places(frames: Sequence[Frame], marks: Sequence[Landmarks68 | None]) -> list[float]:
    """Per frame, where the irises sit across the eyes (NaN: no face, or unclear)."""
    return [
        float("nan")
        if m is None
        else gaze_place(np.asarray(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), np.float32), m)
        for f, m in zip(frames, marks, strict=True)
    ]


def gaze_r(
    clip: Sequence[float], frames: Sequence[Frame], marks: Sequence[Landmarks68 | None]
) -> float:
    """Correlation of the clip's gaze places and the output's, where both read."""
    pairs = [
        (c, o) for c, o in zip(clip, gaze_places(frames, marks), strict=True) if c == c and o == o
    ]
    return gaze_correlation([c for c, _ in pairs], [o for _, o in pairs])


def clip_motion(
    path: Path, models: DlibFaceModels
) -> tuple[MotionData, list[Landmarks68 | None], list[float]]:
    """The clip's stored motion, its main face's landmarks per frame (the reference)
    and its gaze places (:func:`gaze_places`)."""
    animation = read_animation(path)
    analysis = analyse_animation(animation, models)
    track = analysis.main_track
    assert track is not None, f"{path.name}: no face"
    marks = [track.landmarks[i] if track.present[i] else None for i in range(len(track.present))]
    return extract_motion(analysis), marks, gaze_places(animation.frames, marks)


def contact_row(frames: Sequence[Frame], height: int = 160, count: int = 6) -> Frame:
    idx = np.linspace(0, len(frames) - 1, count).round().astype(int)
    h, w = frames[0].shape[:2]
    size = (max(1, round(w * height / h)), height)
    return np.concatenate([cv2.resize(frames[i], size) for i in idx], axis=1)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from server.engines import load_engines

    models = DlibFaceModels(cnn_fallback=False)
    engine = load_engines(models).motion[args.engine]
    identities = _identities(args.selfies, models)
    rows: list[dict[str, Any]] = []
    for clip in sorted(args.clips.glob("*.gif")):
        motion, clip_marks, clip_gaze = clip_motion(clip, models)
        sheet = []
        for name, identity in identities.items():
            assert identity.portrait is not None
            frames = engine.animate(identity.portrait, identity.portrait_landmarks, motion)
            shut = blinks(motion)
            scores = score_pair(models, identity.descriptor, clip_marks, frames, shut, clip_gaze)
            rows.append({"selfie": name, "clip": clip.stem, **scores})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            sheet.append(contact_row(frames))
        if args.sheets:
            _write_sheet(args.sheets / f"motion_{clip.stem}.png", sheet)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print(table(rows))
    return 0


def _identities(folder: Path, models: DlibFaceModels) -> dict[str, IdentityData]:
    """Each selfie of ``folder`` made an identity as at upload (those refused are said
    on stderr and left out)."""
    out = {}
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in SELFIE_TYPES):
        image = cv2.imread(str(path))
        if image is None:
            continue
        try:
            out[path.stem] = build_identity([np.asarray(image, np.uint8)], models)
        except (FaceError, ValueError) as exc:
            print(f"{path.name}: no identity ({exc})", file=sys.stderr)
    return out


def _write_sheet(path: Path, rows: list[Frame]) -> None:
    width = max(r.shape[1] for r in rows)
    padded = [cv2.copyMakeBorder(r, 0, 0, 0, width - r.shape[1], cv2.BORDER_CONSTANT) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(padded, axis=0))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.motion_quality")
    p.add_argument("--selfies", type=Path, required=True)
    p.add_argument("--clips", type=Path, required=True)
    p.add_argument("--engine", default="classic")
    p.add_argument("--sheets", type=Path, help="folder for contact sheets (PNG)")
    p.add_argument("--json", type=Path, help="write the rows as JSON")
    return p


if __name__ == "__main__":
    sys.exit(main())
