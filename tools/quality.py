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
               face found) dilated by a fifth of the face's size.

    python -m tools.quality --selfies ../shared/devkit/selfies \
        --templates ../shared/devkit/templates/*.gif --table BENCHMARKS.md
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from server.faces.dlib_models import DlibFaceModels, descriptor_distance
from server.types import Box, DetectedFace, Frame
from server.vision.boxes import box_iou

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


def score_clip(
    models: DlibFaceModels,
    selfie: np.ndarray,
    template: Sequence[Frame],
    output: Sequence[Frame],
    faces: list[_FrameFace] | None = None,
) -> ClipScore:
    """Score one output clip against its template; ``selfie`` is a descriptor."""
    if len(template) != len(output):
        raise ValueError("output and template differ in frame count")
    faces = faces if faces is not None else template_faces(models, template)
    closer = transfer = n = 0
    dists = []
    for tf, of, ff in zip(template, output, faces, strict=True):
        if ff.face is None:
            continue
        n += 1
        own = models.descriptor(tf, ff.face.landmarks)
        found = _matching_face(models, of, ff.face)
        if found is None:
            continue
        d_out = models.descriptor(of, found.landmarks)
        d_self = descriptor_distance(d_out, selfie)
        dists.append(d_self)
        closer += d_self < descriptor_distance(d_out, own)
        transfer += d_self < SAME_PERSON
    return ClipScore(
        face_frames=n,
        id_closer=closer / max(n, 1),
        id_transfer=transfer / max(n, 1),
        flicker=_flicker(template, output, faces),
        bg_psnr=_bg_psnr(template, output, faces),
        mean_distance=float(np.mean(dists)) if dists else float("nan"),
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
    import argparse
    import sys
    import tempfile
    import time
    from pathlib import Path

    from server.engines import build_engines
    from server.faces.identity import FaceError, build_identity
    from server.gif_templates.catalog import TemplateCatalog
    from server.gif_templates.library import load_template_from_path
    from server.gif_templates.media import read_animation
    from server.render.pipeline import render

    p = argparse.ArgumentParser(
        prog="python -m tools.quality", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--selfies", nargs="+", type=Path, required=True, help="image files or folders")
    p.add_argument("--templates", nargs="+", required=True, help="template ids or animation files")
    p.add_argument("--dir", type=Path, help="template library for ids (default: settings)")
    p.add_argument("--engine", default="classic")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a ClassicOptions field for this run, e.g. keep_eyes=true or shading=0",
    )
    p.add_argument("--format", default="gif", choices=["gif", "webp", "mp4"])
    p.add_argument("--sheets", type=Path, help="write a contact sheet PNG per pair here")
    p.add_argument("--table", type=Path, help="append the markdown table to this file")
    args = p.parse_args(argv)

    models = DlibFaceModels()
    engine = build_engines(models)[args.engine]
    if args.option:
        engine = _classic_with(args.option)
    selfie_files = [f for s in args.selfies for f in (sorted(s.iterdir()) if s.is_dir() else [s])]
    catalog = None
    templates = []
    for t in args.templates:
        if Path(t).is_file():
            templates.append((Path(t).stem, load_template_from_path(t, models)))
            continue
        if catalog is None:
            from server.settings import load_settings

            catalog = TemplateCatalog(args.dir or load_settings().templates_dir)
            catalog.load(models, rebuild_stale=True)
        templates.append((t, catalog.require(t)))
    rows: list[tuple[str, ClipScore, float]] = []
    for tname, template in templates:
        tframes = template.animation().frames
        tfaces = template_faces(models, tframes)
        for sf in selfie_files:
            image = cv2.imread(str(sf))
            try:
                identity = build_identity([image], models)
            except FaceError as exc:
                print(f"skip {sf.name}: {exc.code}", file=sys.stderr)
                continue
            t0 = time.perf_counter()
            out = render(
                template, {template.analysis.tracks[0].track_id: identity}, engine, args.format
            )
            seconds = time.perf_counter() - t0
            suffix = {"gif": ".gif", "webp": ".webp", "mp4": ".mp4"}[args.format]
            # A file of its own: several runs at once must not read each other's clips.
            with tempfile.TemporaryDirectory(prefix="faceloop-quality-") as folder:
                tmp = Path(folder) / f"out{suffix}"
                tmp.write_bytes(out.data)
                oframes = read_animation(tmp).frames
            score = score_clip(models, selfie_descriptor(models, image), tframes, oframes, tfaces)
            name = f"{sf.stem} x {tname}"
            rows.append((name, score, seconds))
            print(f"{name}: {_fmt(score)} ({seconds:.2f} s)", flush=True)
            if args.sheets:
                args.sheets.mkdir(parents=True, exist_ok=True)
                pick = np.linspace(0, len(tframes) - 1, 5).astype(int)
                sheet = np.vstack(
                    [np.hstack([tframes[i] for i in pick]), np.hstack([oframes[i] for i in pick])]
                )
                cv2.imwrite(str(args.sheets / f"{sf.stem}_{tname}.png"), sheet)
    table = _table(rows)
    print(table)
    if args.table:
        with open(args.table, "a", encoding="utf-8") as fh:
            fh.write(table + "\n")
    return 0


def _classic_with(options: list[str]) -> Any:
    """A classic engine with some options changed (to measure a choice)."""
    import dataclasses

    from server.engines.classic import ClassicEngine, ClassicOptions

    fields = {f.name: f.type for f in dataclasses.fields(ClassicOptions)}
    values: dict[str, object] = {}
    for item in options:
        name, _, raw = item.partition("=")
        if name not in fields:
            raise SystemExit(f"error: unknown option {name!r}; known: {', '.join(fields)}")
        kind = fields[name]
        if kind == "bool":
            values[name] = raw.lower() in ("1", "true", "yes")
        else:
            values[name] = int(raw) if kind == "int" else float(raw)
    return ClassicEngine(ClassicOptions(**values))  # type: ignore[arg-type]


def _fmt(s: ClipScore) -> str:
    return (
        f"closer {s.id_closer:.2f} transfer {s.id_transfer:.2f} flicker {s.flicker:.2f} "
        f"bg_psnr {s.bg_psnr:.1f} dist {s.mean_distance:.3f}"
    )


def _table(rows: list[tuple[str, ClipScore, float]]) -> str:
    lines = [
        "| pair | face frames | id_closer | id_transfer | flicker | bg_psnr (dB) | render (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s, sec in rows:
        lines.append(
            f"| {name} | {s.face_frames} | {s.id_closer:.2f} | {s.id_transfer:.2f} | "
            f"{s.flicker:.2f} | {s.bg_psnr:.1f} | {sec:.2f} |"
        )
    if rows:
        n = np.array([s.face_frames for _, s, _ in rows], float)
        w = n / max(n.sum(), 1)
        closer = float(sum(s.id_closer * k for (_, s, _), k in zip(rows, w, strict=True)))
        transfer = float(sum(s.id_transfer * k for (_, s, _), k in zip(rows, w, strict=True)))
        flicker = max(s.flicker for _, s, _ in rows)
        psnr = min(s.bg_psnr for _, s, _ in rows)
        lines.append(
            f"| **all ({len(rows)} pairs)** | {int(n.sum())} | **{closer:.2f}** | "
            f"**{transfer:.2f}** | max {flicker:.2f} | min {psnr:.1f} | "
            f"mean {np.mean([x for _, _, x in rows]):.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
