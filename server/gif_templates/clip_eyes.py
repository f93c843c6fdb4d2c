"""What a clip's eyes do that its landmarks miss, for the motion extracted from it
(:func:`.motion_authoring.extract_motion`): where its irises look, and the eyes its
picture shows shut where dlib's points keep them open (a wink: the devkit's d3 keeps its
points 0.4 to 1.3 times open). Both come from the clip's analysis (features ``iris`` and
``seen_shut``, :mod:`.features`); an analysis without them gives neither.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from server.gif_templates.features import IRIS, SEEN_SHUT
from server.gif_templates.occluders import GLASSES
from server.gif_templates.retarget import blinks
from server.gif_templates.tracks import FaceTrack
from server.types import MotionData
from server.vision import gaze
from server.vision.glasses import track_wears


def clip_seen_shut(track: FaceTrack, frames: int) -> NDArray[np.float32] | None:
    """(N, 2) 1 where the picture shows the eye shut (image-left eye first), or None:
    no such eye, no read, or a face behind glasses (their frames add level edges:
    d9's shut eyes read too near its open ones)."""
    seen = track.extras.get(SEEN_SHUT)
    if seen is None or np.shape(seen) != (frames, 2):
        return None
    worn = track.extras.get(GLASSES)
    if worn is not None and np.shape(worn) == (frames,) and track_wears(worn):
        return None
    shut = (np.asarray(seen) > 0.5).astype(np.float32)
    return shut if shut.any() else None


def clip_gaze(track: FaceTrack, motion: MotionData) -> NDArray[np.float32] | None:
    """Where the clip's irises sit across its eyes per frame (:class:`MotionData`'s
    ``gaze``), from the iris places its analysis read, not read in a blink or a wink
    (:func:`.retarget.blinks`, the picture-read shut eyes included); None where too few
    frames read (an analysis without the reads, eyes in shadow)."""
    reads = track.extras.get(IRIS)
    if reads is None or np.shape(reads) != (motion.frame_count, 2):
        return None
    present = [int(i) for i in np.flatnonzero(track.present)]
    read = gaze.track_gaze(np.asarray(reads, np.float64), present, 1.0 - blinks(motion))
    return None if read is None else read.astype(np.float32)
