"""Author a starter motion template straight from the authoring puppet's landmarks.

    python -m tools.starter_motion [--dir templates_gifs]

dlib's 68 landmarks hardly follow a closing eyelid (a painted wink held for 0.8 s reads
as 16 % closed), so a wink extracted from a clip barely winks. ``motion-wink`` is
therefore made from the puppet's own landmarks (the exact motion it drew) on the public-
domain astronaut photo: a smile with the head tilting, and the image-left eye winking
for about 0.8 s. Same motion format and library code as ``tools.templates add --kind
motion``; only the landmarks come from the puppet instead of dlib.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from server.faces.dlib_models import DlibFaceModels
from server.faces.portrait import head_and_shoulders
from server.gif_templates.catalog import TemplateManifest
from server.gif_templates.motion_authoring import add_motion_template, relative_motion
from server.gif_templates.puppet import Expression, FacePuppet, HeadPose
from server.settings import REPO_ROOT
from server.types import MotionData

FPS, FRAMES = 12, 30
SOURCE = (
    "Motion of the Faceloop authoring puppet (tools/starter_motion.py: its own landmarks, "
    "a smile and a wink) on the NASA photo of Eileen Collins (scikit-image "
    "data.astronaut, public domain); preview on the same photo"
)


def wink_motion(models: DlibFaceModels) -> MotionData:
    from skimage import data

    image = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    portrait, landmarks = head_and_shoulders(
        image, models.detect(image, use_cnn=False)[0].landmarks
    )
    puppet = FacePuppet(portrait, landmarks)
    points = []
    for i in range(FRAMES):
        t = i / FPS
        smile = 0.8 * float(np.clip(min(t / 0.5, (2.5 - t) / 0.5), 0.0, 1.0))
        wink = float(np.clip(min((t - 0.8) / 0.15, (1.75 - t) / 0.15), 0.0, 1.0))
        head = HeadPose(angle=-4.0 * smile)
        m = puppet.head_transform(head)
        pts = puppet.expression_points(Expression(0.0, smile, 0.2 * smile, 0.0, wink))
        points.append(pts @ m[:, :2].T + m[:, 2])
    shape, pose = relative_motion(np.asarray(points))
    durations = tuple([round(1000 / FPS / 10) * 10] * FRAMES)
    return MotionData("landmarks", durations, 0, shape.astype(np.float32), pose.astype(np.float32))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.starter_motion")
    p.add_argument("--dir", type=Path, default=REPO_ROOT / "templates_gifs")
    args = p.parse_args(argv)
    models = DlibFaceModels(cnn_fallback=False)
    manifest = TemplateManifest(
        id="motion-wink",
        kind="motion",
        title="Smile and wink",
        tags=["motion", "smile", "wink"],
        source=SOURCE,
        license="Public domain (source image); motion CC0-1.0",
    )
    template = add_motion_template(wink_motion(models), args.dir, manifest, models, force=True)
    print(f"wrote {template.id}: {template.motion.frame_count} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
