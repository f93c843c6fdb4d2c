"""Independent quality check of refaced clips, built on dlib's 128-d face descriptor.

It knows nothing of how a render was made: it detects faces anew in the template's and
the output's frames and scores, per clip,
- id_closer:   share of face frames whose output face is closer to the selfie than to
               the template's own face in that frame (a lost face counts as a miss);
- id_transfer: share of face frames whose output face is within 0.6 of the selfie
               (dlib's same-person threshold);
- flicker:     frame-to-frame change inside the face hull, output over template
               (1.0 = no flicker added);
- bg_psnr:     PSNR of the output against the template outside the face hulls (every
               face found) dilated by a fifth of the face's size;
and the artefact measures of :mod:`tools.artefacts` (detail, mouth state, eye lightness,
nose bridge edges, motion-compensated change). ``--sheets DIR`` writes a contact sheet per pair
(:mod:`tools.sheets`).

    python -m tools.quality --selfies ../shared/devkit/selfies \
        --templates ../shared/devkit/templates/*.gif --table BENCHMARKS.md
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from server.faces.dlib_models import DlibFaceModels, descriptor_distance
from server.types import Box, DetectedFace, Frame
from server.vision.boxes import box_iou
from tools.artefacts import measure
from tools.quality_cli import artefact_table, classic_with, fmt, parser, table

SAME_PERSON = 0.6
HULL_DILATION = 0.2  # of sqrt(hull area)
BORROW_FRAMES = 2  # a frame with no face found takes its neighbour's background region


@dataclass
class ClipScore:
    face_frames: int
    id_closer: float
    id_transfer: float
    flicker: float
    bg_psnr: float
    mean_distance: float
    detail: float = float("nan")
    mouth_agree: float = float("nan")
    mouth_corr: float = float("nan")
    eye_light: float = float("nan")
    eye_detail: float = float("nan")
    bridge: float = float("nan")
    slide: float = float("nan")
    gaze_corr: float = float("nan")


@dataclass
class _FrameFace:
    face: DetectedFace | None
    hull: np.ndarray | None  # uint8 mask of the 68-point hull
    region: np.ndarray | None  # uint8 mask of the dilated hull


def selfie_descriptor(models: DlibFaceModels, image: Frame) -> np.ndarray:
    faces = models.detect(image, max_side=1280)
    if not faces:
        raise ValueError("no face in the selfie")
    return models.descriptor(image, faces[0].landmarks)


def template_faces(models: DlibFaceModels, frames: Sequence[Frame]) -> list[_FrameFace]:
    """The main (largest) face of each template frame, with its hull masks.

    The background region leaves out every face the detector finds (a render may
    change any of them), and a frame where it finds none borrows the region of the
    nearest frame with one, up to ``BORROW_FRAMES`` away: one missed detection must
    not make the whole face count as background. Faces stay None there, so identity
    and flicker skip the frame."""
    out = []
    for frame in frames:
        faces = models.detect(frame, min_face=30, use_cnn=False)
        if not faces:
            out.append(_FrameFace(None, None, None))
            continue
        hulls = []
        region = np.zeros(frame.shape[:2], np.uint8)
        for f in faces:
            hull = np.zeros(frame.shape[:2], np.uint8)
            pts = cv2.convexHull(np.round(f.landmarks).astype(np.int32))
            cv2.fillConvexPoly(hull, pts, 1)
            r = max(1, int(HULL_DILATION * np.sqrt(hull.sum())))
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
            region |= np.asarray(cv2.dilate(hull, kernel), np.uint8)
            hulls.append(hull)
        out.append(_FrameFace(faces[0], hulls[0], region))
    found = [i for i, f in enumerate(out) if f.region is not None]
    for i, f in enumerate(out):
        if f.region is None and found:
            j = min(found, key=lambda k: abs(k - i))
            if abs(j - i) <= BORROW_FRAMES:
                out[i] = _FrameFace(None, None, out[j].region)
    return out


def output_faces(
    models: DlibFaceModels, output: Sequence[Frame], faces: list[_FrameFace]
) -> list[DetectedFace | None]:
    """The output's face where the template's main face is (None where it is lost)."""
    return [
        None if ff.face is None else _matching_face(models, of, ff.face)
        for of, ff in zip(output, faces, strict=True)
    ]


def score_clip(
    models: DlibFaceModels,
    selfie: np.ndarray,
    template: Sequence[Frame],
    output: Sequence[Frame],
    faces: list[_FrameFace] | None = None,
    found: list[DetectedFace | None] | None = None,
) -> ClipScore:
    """Score one output clip against its template; ``selfie`` is a descriptor."""
    if len(template) != len(output):
        raise ValueError("output and template differ in frame count")
    faces = faces if faces is not None else template_faces(models, template)
    found = found if found is not None else output_faces(models, output, faces)
    closer = transfer = n = 0
    dists = []
    for tf, of, ff, got in zip(template, output, faces, found, strict=True):
        if ff.face is None:
            continue
        n += 1
        if got is None:
            continue
        own = models.descriptor(tf, ff.face.landmarks)
        d_out = models.descriptor(of, got.landmarks)
        d_self = descriptor_distance(d_out, selfie)
        dists.append(d_self)
        closer += d_self < descriptor_distance(d_out, own)
        transfer += d_self < SAME_PERSON
    t_lm = [None if ff.face is None else ff.face.landmarks for ff in faces]
    o_lm = [None if f is None else f.landmarks for f in found]
    return ClipScore(
        face_frames=n,
        id_closer=closer / max(n, 1),
        id_transfer=transfer / max(n, 1),
        flicker=_flicker(template, output, faces),
        bg_psnr=_bg_psnr(template, output, faces),
        mean_distance=float(np.mean(dists)) if dists else float("nan"),
        **asdict(measure(template, output, t_lm, o_lm)),
    )


def _matching_face(models: DlibFaceModels, frame: Frame, ref: DetectedFace) -> DetectedFace | None:
    best, best_iou = None, 0.3
    for f in models.detect(frame, min_face=30, use_cnn=False):
        iou = box_iou(_ltrb(f.box), _ltrb(ref.box))
        if iou > best_iou:
            best, best_iou = f, iou
    return best


def _ltrb(b: Box) -> tuple[int, int, int, int]:
    return (b.left, b.top, b.right, b.bottom)


def _flicker(template: Sequence[Frame], output: Sequence[Frame], faces: list[_FrameFace]) -> float:
    own = ours = 0.0
    for i in range(1, len(template)):
        h = faces[i].hull
        if h is None or faces[i - 1].hull is None:
            continue
        m = h.astype(bool)
        own += float(np.abs(template[i][m].astype(np.int16) - template[i - 1][m]).mean())
        ours += float(np.abs(output[i][m].astype(np.int16) - output[i - 1][m]).mean())
    return ours / own if own > 0 else float("nan")


def _bg_psnr(template: Sequence[Frame], output: Sequence[Frame], faces: list[_FrameFace]) -> float:
    se = 0.0
    count = 0
    for t, o, f in zip(template, output, faces, strict=True):
        keep = np.ones(t.shape[:2], bool) if f.region is None else f.region == 0
        diff = t[keep].astype(np.float64) - o[keep]
        se += float((diff**2).sum())
        count += diff.size
    mse = se / max(count, 1)
    return 99.0 if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def as_row(name: str, score: ClipScore) -> dict[str, object]:
    return {"pair": name, **asdict(score)}


# -- command line ------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    import sys

    args = parser(__doc__).parse_args(argv)
    from server.engines import build_engines
    from server.faces.identity import FaceError, build_identity

    models = DlibFaceModels()
    engine = classic_with(args.option) if args.option else build_engines(models)[args.engine]
    selfie_files = [f for s in args.selfies for f in (sorted(s.iterdir()) if s.is_dir() else [s])]
    rows: list[tuple[str, ClipScore, float]] = []
    for tname, template in _templates(args, models):
        tframes = template.animation().frames
        tfaces = template_faces(models, tframes)
        for sf in selfie_files:
            image = cv2.imread(str(sf))
            try:
                identity = build_identity([image], models)
            except FaceError as exc:
                print(f"skip {sf.name}: {exc.code}", file=sys.stderr)
                continue
            name = f"{sf.stem} x {tname}"
            score, seconds = _run_pair(
                args, models, engine, image, identity, template, tfaces, name
            )
            rows.append((name, score, seconds))
            print(f"{name}: {fmt(score)} ({seconds:.2f} s)", flush=True)
    text = table(rows) + "\n\n" + artefact_table(rows)
    print(text)
    if args.table:
        with open(args.table, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0


def _templates(args: Any, models: DlibFaceModels) -> list[tuple[str, Any]]:
    from pathlib import Path

    from server.gif_templates.catalog import TemplateCatalog
    from server.gif_templates.library import load_template_from_path

    catalog = None
    out = []
    for t in args.templates:
        if Path(t).is_file():
            out.append((Path(t).stem, load_template_from_path(t, models)))
            continue
        if catalog is None:
            from server.settings import load_settings

            catalog = TemplateCatalog(args.dir or load_settings().templates_dir)
            catalog.load(models, rebuild_stale=True)
        out.append((t, catalog.require(t)))
    return out


def _run_pair(
    args: Any,
    models: DlibFaceModels,
    engine: Any,
    image: Frame,
    identity: Any,
    template: Any,
    tfaces: list[_FrameFace],
    name: str,
) -> tuple[ClipScore, float]:
    """Render one pair, score it and (with ``--sheets``) write its contact sheet."""
    import time
    from pathlib import Path

    from server.gif_templates.media import read_animation
    from server.render.pipeline import render

    tframes = template.animation().frames
    t0 = time.perf_counter()
    out = render(template, {template.analysis.tracks[0].track_id: identity}, engine, args.format)
    seconds = time.perf_counter() - t0
    # A file of its own: several runs at once must not read each other's clips.
    with tempfile.TemporaryDirectory(prefix="faceloop-quality-") as folder:
        tmp = Path(folder) / f"out.{args.format}"
        tmp.write_bytes(out.data)
        oframes = read_animation(tmp).frames
    found = output_faces(models, oframes, tfaces)
    desc = selfie_descriptor(models, image)
    score = score_clip(models, desc, tframes, oframes, tfaces, found)
    if args.sheets:
        from tools.sheets import contact_sheet

        args.sheets.mkdir(parents=True, exist_ok=True)
        selfie_faces = models.detect(image, max_side=1280)
        t_lm = [None if f.face is None else f.face.landmarks for f in tfaces]
        lines = [name, *fmt(score).split("  ")]
        sheet = contact_sheet(image, selfie_faces[0].landmarks, tframes, oframes, t_lm, lines)
        cv2.imwrite(str(args.sheets / f"{name.replace(' x ', '_')}.png"), sheet)
    return score, seconds


if __name__ == "__main__":
    raise SystemExit(main())
