"""How much of a clip's motion the classic animator's mesh delivers, per selfie x clip.

    python -m tools.motion_mesh --selfies DIR --clips DIR

The animator warps the portrait over a triangle mesh and draws the whole mesh back
toward the rest pose in a frame where a triangle would fold, so part of the motion the
clip asks for is lost there. Per pair, from the animator's own points (a diagnostic
beside ``tools.motion_quality``'s independent check, not a replacement for it):

- ``delivered``: mean over frames of how far the landmarks move from the rest pose,
  as rendered, over how far the clip's motion (its whole head turn included) asks;
- ``mouth``: the same for the inner-lip gap, over the frames whose mouth the clip opens
  by more than 0.05 inter-ocular distances;
- ``drawn``: frames whose mesh was drawn back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from server.faces.dlib_models import DlibFaceModels
from server.faces.identity import build_identity
from server.gif_templates.animate import FaceRig, Points
from server.gif_templates.paint import mouth_opening
from server.gif_templates.retarget import blinks, portrait_rig, posed, retarget, turn
from server.types import MotionData
from tools.motion_quality import SELFIE_TYPES, clip_motion


def delivered(rig: FaceRig, face: Points, motion: MotionData) -> tuple[float, float, int]:
    """(delivered, mouth, drawn) of one portrait and motion (see the module)."""
    shares, mouths, drawn = [], [], 0
    rest = rig.base[:68]
    shut = blinks(motion)
    for i in range(motion.frame_count):
        asked, head, _ = retarget(face, motion, i, shut=shut)
        wanted = rig.mesh(asked, head, turn(motion, i), unfold=False)[:68]
        points, head, _, turning = posed(rig, face, motion, i, shut)
        raw = rig.mesh(points, head, turning, unfold=False)
        got = rig.mesh(points, head, turning)
        drawn += int(not np.array_equal(got, raw))
        far = float(np.linalg.norm(wanted - rest))
        shares.append(float(np.linalg.norm(got[:68] - rest)) / far if far > 0 else 1.0)
        gap = mouth_opening(asked[60:68])
        if gap > 0.05 * rig.iod:
            mouths.append(mouth_opening(got[60:68]) / gap)
    return float(np.mean(shares)), float(np.mean(mouths)) if mouths else float("nan"), drawn


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.motion_mesh")
    p.add_argument("--selfies", type=Path, required=True)
    p.add_argument("--clips", type=Path, required=True)
    args = p.parse_args(argv)
    models = DlibFaceModels(cnn_fallback=False)
    clips = {c.stem: clip_motion(c, models)[0] for c in sorted(args.clips.glob("*.gif"))}
    print("| selfie | clip | delivered | mouth | drawn |\n|---|---|---|---|---|")
    totals = []
    for path in sorted(f for f in args.selfies.iterdir() if f.suffix.lower() in SELFIE_TYPES):
        identity = build_identity([np.asarray(cv2.imread(str(path)), np.uint8)], models)
        assert identity.portrait is not None and identity.portrait_landmarks is not None
        rig, face = portrait_rig(identity.portrait, identity.portrait_landmarks)
        for name, motion in clips.items():
            share, mouth, drawn = delivered(rig, face, motion)
            totals.append((share, mouth, drawn))
            print(f"| {path.stem} | {name} | {share:.2f} | {mouth:.2f} | {drawn} |", flush=True)
    t = np.array(totals)
    print(
        f"\nmean delivered {np.mean(t[:, 0]):.3f}, mouth {np.nanmean(t[:, 1]):.3f}; "
        f"frames drawn back {int(t[:, 2].sum())}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
