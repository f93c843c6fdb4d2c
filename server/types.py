"""Array roles and small value types shared across the service.

Conventions (state them once, here):
- ``Frame``: uint8 array HxWx3 in OpenCV's BGR order, values 0..255.
- ``Landmarks68``: float32 array (68, 2) of (x, y) pixel coordinates in dlib's iBUG-68
  order (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, lips 48-67).
- ``Landmarks5``: float32 array (5, 2): left eye, right eye, nose tip, left and right
  mouth corner (image-left first), the order insightface's alignment expects.
- ``Descriptor``: float32 (128,) dlib face descriptor (same person if distance < 0.6).
- ``Affine``: float64 (2, 3) matrix mapping source (x, y, 1) to destination (x, y).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

import numpy as np
from numpy.typing import NDArray

Frame: TypeAlias = NDArray[np.uint8]
Mask: TypeAlias = NDArray[np.float32]  # HxW, 0..1
Landmarks68: TypeAlias = NDArray[np.float32]
Landmarks5: TypeAlias = NDArray[np.float32]
Descriptor: TypeAlias = NDArray[np.float32]
Embedding: TypeAlias = NDArray[np.float32]  # (512,) L2-normalised ArcFace identity
Affine: TypeAlias = NDArray[np.float64]

OutputFormat = Literal["gif", "mp4", "webp"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("gif", "mp4", "webp")
MEDIA_TYPES: dict[str, str] = {"gif": "image/gif", "mp4": "video/mp4", "webp": "image/webp"}


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in pixels, right/bottom exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)


@dataclass(frozen=True)
class DetectedFace:
    """One face found in an image: box, 68 landmarks and where they came from."""

    box: Box
    landmarks: Landmarks68
    score: float
    detector: Literal["hog", "cnn"]


@dataclass(frozen=True)
class Animation:
    """Decoded animation: composited BGR frames plus timing, as a viewer sees them."""

    frames: list[Frame]
    durations_ms: list[int]
    loop: int = 0  # 0 = forever, as in GIF's NETSCAPE extension

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        h, w = self.frames[0].shape[:2]
        return w, h


@dataclass
class SelfieReport:
    """What identity creation measured on one uploaded selfie."""

    index: int
    width: int
    height: int
    face_box: Box
    detector: str
    sharpness: float
    frontality: float  # 1 = frontal, 0 = profile
    face_size: int  # inter-ocular-based face size in pixels
    score: float  # combined quality 0..1, less the coaching warnings' penalties
    used_as_texture: bool = False
    usable: bool = True  # False: a blocking problem, it cannot be the texture
    # coaching advice: {code, message, selfie, blocking} (server.faces.coaching)
    warnings: list[dict[str, object]] = field(default_factory=list)
    measures: dict[str, float] = field(default_factory=dict)  # what the checks measured


@dataclass
class IdentityData:
    """Everything renders need from an identity, computed once at upload.

    ``texture`` is the best selfie's face region (with margin) resampled to a fixed
    size and ``landmarks`` are in its coordinates; renders never detect on selfies again.
    """

    texture: Frame
    landmarks: Landmarks68
    descriptors: NDArray[np.float32]  # (n_selfies, 128)
    descriptor: Descriptor  # mean of the descriptors
    selfies: list[SelfieReport]
    quality: dict[str, object] = field(default_factory=dict)
    embedding: Embedding | None = None  # neural engine identity, when available
    # Motion renders: the chosen selfie's head-and-shoulders portrait (BGR, <= 512 px,
    # decoded pixels only) and its 68 landmarks; None for identities made before.
    portrait: Frame | None = None
    portrait_landmarks: Landmarks68 | None = None


TemplateKind = Literal["swap", "motion"]
TEMPLATE_KINDS: tuple[TemplateKind, ...] = ("swap", "motion")
MotionFormat = Literal["landmarks", "liveportrait"]
MOTION_FORMATS: tuple[MotionFormat, ...] = ("landmarks", "liveportrait")


@dataclass(frozen=True, eq=False)
class MotionData:
    """A clip's head and expression motion relative to its first frame; no pixels.

    ``format`` "landmarks" (the classic animator's, extracted with dlib):
    - ``shape`` float32 (N, 68, 2): each frame's landmarks with the head pose taken out,
      in frame 0's face units: origin at the centroid of the rigid points (eye corners,
      nose), x along frame 0's eye line (image-left to image-right eye), unit = frame
      0's inter-ocular distance (IOD).
    - ``pose`` float32 (N, 4): dx, dy (same units and axes), log scale, roll (radians,
      positive = clockwise on screen), relative to frame 0 (row 0 is zeros).
    - ``gaze`` float32 (N, 2), when the clip's irises could be read: where each iris
      sits across its eye (0 at the image-left corner, 1 at the image-right one;
      image-left eye first), see :func:`server.vision.gaze.track_gaze`.
    - ``seen_shut`` float32 (N, 2), when the clip's picture shows an eye shut that its
      landmarks keep open (a wink): 1 there, 0 elsewhere.

    ``format`` "liveportrait" (LivePortrait's motion extractor conventions):
    ``rotation`` (N, 3, 3), ``translation`` (N, 3), ``scale`` (N,), ``expression``
    (N, 21, 3), and when known ``eyes`` (N, 2) / ``lip`` (N, 1) openness ratios.

    ``durations_ms`` has one entry per frame; ``loop`` is 0 for forever, as in GIF.
    """

    format: MotionFormat
    durations_ms: tuple[int, ...]
    loop: int = 0
    shape: NDArray[np.float32] | None = None
    pose: NDArray[np.float32] | None = None
    rotation: NDArray[np.float32] | None = None
    translation: NDArray[np.float32] | None = None
    scale: NDArray[np.float32] | None = None
    expression: NDArray[np.float32] | None = None
    eyes: NDArray[np.float32] | None = None
    lip: NDArray[np.float32] | None = None
    gaze: NDArray[np.float32] | None = None
    seen_shut: NDArray[np.float32] | None = None

    @property
    def frame_count(self) -> int:
        return len(self.durations_ms)
